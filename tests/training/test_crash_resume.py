"""Crash-safe training, end to end: ``train.py`` killed with SIGKILL, then re-run unchanged.

Every test runs the same small command (:func:`_command`: digits, 120 steps of batch 16, a
checkpoint every 5 steps, loops of 3 steps, ``--deterministic``, no export) in a subprocess,
kills it at kill points drawn from a seeded RNG, re-runs the very same command in the same
workdir and checks that the re-run resumes from the newest checkpoint named in
``checkpoints/checkpoint`` (its stdout says ``resumed from .../ckpt-N at step N``; not from
scratch) and ends with a final checkpoint whose every variable (model weights and batch-norm
statistics, optimizer slots and iterations, step, epoch, save counter) is bit-identical
(``np.array_equal``) to that of an uninterrupted run of the command in another workdir.

Kill points are found by polling the checkpoint directory, never by wall time: a run is killed
as soon as the wanted checkpoint is listed, or as soon as a save is seen in progress; a slow
machine only moves the kill by a step or two, the step to resume from is read from the state
file after the kill, and the kill must end the process with -SIGKILL before its last step.
Scenarios: three kills in a row (the first run, then its re-run, then that one's:
``KILL_POINTS``); a kill in the middle of a save (one killed run, fixture
``killed_during_a_save``, whose workdir is copied for the next two); the same followed by a
truncated or a corrupted newest checkpoint. Subprocesses dominate the cost (~7 s each, nine in
all), hence one uninterrupted run and one run killed during a save, shared.

How the input pipeline resumes (``Trainer._iterator_at``, ``data/pipeline.py``): the tf.data
iterator state is not checkpointed. The training input is ``cache -> shuffle(seed,
reshuffle_each_iteration=True) -> repeat -> batch(drop_remainder=True) -> prefetch``, so the
sequence of batches is a pure function of ``--seed``; on resume the pipeline is rebuilt,
re-iterated deterministically from its start, and ``dataset.skip(step)`` discards the ``step``
batches that the restored checkpoint had consumed. Batches the killed process drew after its
last checkpoint are simply drawn again, so the resumed run sees exactly the batches of an
uninterrupted run. (The 120 steps cross the epoch boundary at step 89, where the shuffle order
changes, and the last kill point lies beyond it.)

Checkpoint atomicity, as TensorFlow 2.21 does it (verified by
:func:`test_a_kill_during_a_save_leaves_only_complete_checkpoints_listed`):

* ``CheckpointManager.save`` writes the tensors into a staging directory ``ckpt-N_temp/``
  (each file under a ``.tempstate`` name, renamed when written), then merges: it renames the
  data file to ``ckpt-N.data-00000-of-00001``, writes ``ckpt-N.index`` *in place* (opened with
  ``O_TRUNC``, no temporary name: a half-written ``ckpt-N.index`` can exist) and removes the
  staging directory (seen with ``strace`` on TF 2.21).
* Only then is the ``checkpoint`` state file rewritten, atomically (a temporary file renamed
  over it: ``file_io.atomic_write_string_to_file``). So the state file, not the presence of
  ``ckpt-N.index``, says which checkpoints are complete: a kill during a save leaves it naming
  only complete checkpoints, never the half-written ``ckpt-N``, and the re-run resumes from the
  one before it.
* One exception, by design in ``checkpoint_management.py`` (``_record_and_sweep_state``): the
  state is recorded with the new checkpoint *before* the oldest is deleted, then recorded again
  after. A kill inside that window leaves ``max_to_keep + 1`` paths listed, the oldest (partly)
  deleted; the newest, where ``Trainer.restore`` starts, is always complete.
* Nothing is fsync'ed (no fsync or fdatasync under ``strace``): all this holds for a killed
  process (the kernel keeps its writes), not necessarily for a power loss.
* A kill while the staging directory holds a ``.tempstate`` file leaves ``ckpt-N_temp/``
  behind (the manager's sweep deletes only ``.index`` and ``.data-*``); ``Trainer.restore``
  removes such folders on the chief.

A damaged newest checkpoint (its data file truncated, or bytes flipped, after the kill) must be
reported on stderr, and the re-run must fall back to the previous one instead of starting from
scratch (the unreadable one is moved to ``checkpoints/unreadable/``, kept).
"""

from __future__ import annotations

import dataclasses
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

from tests.helpers import REPO, run_cli

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="SIGKILL/SIGSTOP and /proc: Linux only"
)

TRAIN_STEPS = 120
CHECKPOINT_EVERY = 5
STEPS_PER_LOOP = 3  # loops of 3 + 2 steps between checkpoints
BATCH_SIZE = 16  # digits has 1437 training images: 89 steps per epoch
MAX_TO_KEEP = 3  # Trainer's default, which run_experiment keeps
POLL_SECONDS = 0.002  # a step takes ~20 ms
SAVE_POLL_SECONDS = 0.0005  # a save's ckpt-N_temp directory lives ~3 ms
RUN_TIMEOUT = 300  # seconds; only guards against a hang, never decides a result

# Kill points: checkpoint numbers drawn once from a seeded RNG, in strata so that one lies early,
# one mid-epoch and one after the epoch boundary (step 89), each with >= 20 steps left to run.
_rng = random.Random(20250611)


def _draw(low: int, high: int) -> int:
    return _rng.randrange(low, high, CHECKPOINT_EVERY)


KILL_POINTS = (_draw(5, 35), _draw(35, 70), _draw(90, 101))
# >= 20: the killed save leaves at least two complete checkpoints (one to damage, one before it)
KILL_DURING_SAVE_FROM = _draw(20, 60)


def _command(workdir, data_dir: str) -> list[str]:
    return [
        "train.py",
        f"--workdir={workdir}",
        f"--data_dir={data_dir}",
        f"--train_steps={TRAIN_STEPS}",
        f"--checkpoint_every={CHECKPOINT_EVERY}",
        f"--steps_per_loop={STEPS_PER_LOOP}",
        f"--batch_size={BATCH_SIZE}",
        "--seed=0",
        "--deterministic",
        "--noexport",
    ]


# ------------------------------------------------------------------------------------ helpers
class _Run:
    """``python train.py ...`` in the background, its output going to files beside the workdir."""

    def __init__(self, args: list[str], log_prefix: str):
        self.stdout_path, self.stderr_path = log_prefix + ".stdout", log_prefix + ".stderr"
        with open(self.stdout_path, "w") as out, open(self.stderr_path, "w") as err:
            self.process = subprocess.Popen(
                [sys.executable, *args],
                cwd=REPO,
                stdout=out,
                stderr=err,
                env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
            )
        self.deadline = time.monotonic() + RUN_TIMEOUT

    def stdout(self) -> str:
        with open(self.stdout_path) as f:
            return f.read()

    def stderr_tail(self) -> str:
        with open(self.stderr_path) as f:
            return f.read()[-3000:]

    def check_alive(self, waiting_for: str) -> None:
        """Fails the test if the run ended (or hangs) before the kill point was reached."""
        if self.process.poll() is not None:
            pytest.fail(
                f"train.py exited with {self.process.returncode} before {waiting_for}:\n"
                + self.stderr_tail()
            )
        if time.monotonic() > self.deadline:
            pytest.fail(f"train.py did not reach {waiting_for} in {RUN_TIMEOUT} s")

    def kill(self) -> None:
        """SIGKILL, and proof that it interrupted the run (not a process that had finished)."""
        os.kill(self.process.pid, signal.SIGKILL)
        assert self.process.wait() == -signal.SIGKILL, self.stderr_tail()

    def clean_up(self) -> None:
        """Kills the process if a failed test left it running (or held by SIGSTOP)."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def _checkpoint_number(path: str) -> int:
    return int(path.rsplit("-", 1)[1])


def _listed_latest(checkpoint_dir: str) -> int:
    """The newest checkpoint number the state file names; 0 before the first save.

    The state file is replaced by a rename, so a read never sees it half-written.
    """
    try:
        with open(os.path.join(checkpoint_dir, "checkpoint")) as f:
            match = re.search(r'^model_checkpoint_path: "ckpt-(\d+)"', f.read(), re.M)
    except FileNotFoundError:
        return 0
    return int(match.group(1)) if match else 0


def _saves_in_progress(checkpoint_dir: str) -> set[int]:
    """Checkpoint numbers whose ``ckpt-N_temp`` staging directory exists: a save under way (it
    is removed only after ``ckpt-N.index`` is written, and before the state file names N)."""
    try:
        names = os.listdir(checkpoint_dir)
    except FileNotFoundError:
        return set()
    return {int(m.group(1)) for name in names if (m := re.fullmatch(r"ckpt-(\d+)_temp", name))}


def _kill_when_listed(run: _Run, checkpoint_dir: str, number: int) -> int:
    """Kills ``run`` as soon as the state file names ``ckpt-{number}`` (or a later one); returns
    the newest listed checkpoint after the kill: the step the re-run must resume from."""
    while _listed_latest(checkpoint_dir) < number:
        run.check_alive(f"ckpt-{number}")
        time.sleep(POLL_SECONDS)
    run.kill()
    latest = _checkpoint_number(tf.train.get_checkpoint_state(checkpoint_dir).model_checkpoint_path)
    assert number <= latest < TRAIN_STEPS, "the kill must land before training ends"
    return latest


def _wait_until_stopped(pid: int) -> None:
    """Waits for SIGSTOP to take effect in every thread (state 'T' in /proc/PID/task/*/stat):
    a thread inside a write or rename finishes that system call first."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        states = []
        for task in os.listdir(f"/proc/{pid}/task"):
            try:
                with open(f"/proc/{pid}/task/{task}/stat") as f:
                    states.append(f.read().rsplit(")", 1)[1].split()[0])
            except FileNotFoundError:  # a thread that has just exited
                continue
        if all(state in ("T", "t") for state in states):
            return
        time.sleep(SAVE_POLL_SECONDS)
    raise AssertionError(f"process {pid} did not stop")


def _read_every_tensor(path: str) -> dict[str, np.ndarray]:
    """Every tensor of a checkpoint, the serialized object graph included."""
    reader = tf.train.load_checkpoint(path)
    return {key: reader.get_tensor(key) for key in reader.get_variable_to_shape_map()}


def _is_complete(path: str) -> bool:
    try:
        _read_every_tensor(path)
    except Exception:  # noqa: BLE001 - OpError, ValueError, IndexError for a short data file...
        return False
    return True


def _listed_and_broken(checkpoint_dir: str) -> tuple[list[str], list[str]]:
    """The checkpoints the state file lists, and those of them that do not load tensor by
    tensor (every tensor's CRC is checked on reading)."""
    state = tf.train.get_checkpoint_state(checkpoint_dir)
    if state is None:  # during the first save: no state file yet, so nothing is named
        return [], []
    listed = list(state.all_model_checkpoint_paths)
    assert listed and listed[-1] == state.model_checkpoint_path, state
    return listed, [path for path in listed if not _is_complete(path)]


def _assert_only_complete_checkpoints_listed(listed: list[str], broken: list[str]) -> None:
    """Every listed checkpoint is complete, except the oldest of ``max_to_keep + 1`` while TF
    sweeps it (see the module docstring)."""
    being_swept = listed[:1] if len(listed) == MAX_TO_KEEP + 1 else []
    assert set(broken) <= set(being_swept), (broken, listed)


def _resumed_step(result: subprocess.CompletedProcess) -> int:
    """The step the re-run says it resumed from (``resumed from .../ckpt-N at step N``)."""
    match = re.search(r"resumed from (\S+) at step (\d+)", result.stdout)
    assert match, result.stdout[-3000:]
    assert _checkpoint_number(match.group(1)) == int(match.group(2))
    return int(match.group(2))


class RerunFailed(AssertionError):
    """The re-run of the command did not exit 0 (a distinct type, so that an expected failure
    names exactly this and nothing else that could go wrong in a test)."""


def _rerun(command: list[str]) -> subprocess.CompletedProcess:
    result = run_cli(*command, timeout=RUN_TIMEOUT)
    if result.returncode != 0:
        raise RerunFailed(f"exit status {result.returncode}:\n{result.stderr[-3000:]}")
    assert f"steps             {TRAIN_STEPS}" in result.stdout, result.stdout[-3000:]
    return result


def _final_checkpoint(workdir) -> str:
    path = tf.train.latest_checkpoint(os.path.join(workdir, "checkpoints"))
    assert path is not None and _checkpoint_number(path) == TRAIN_STEPS, path
    step = tf.train.load_checkpoint(path).get_tensor("step/.ATTRIBUTES/VARIABLE_VALUE")
    assert step == TRAIN_STEPS
    return path


OBJECT_GRAPH = "_CHECKPOINTABLE_OBJECT_GRAPH"


def _assert_bit_identical(path: str, reference: str) -> None:
    """Every variable equal bit for bit. The serialized object graph is left out: it lists the
    same objects, but in creation order, which differs after a resume (``save_counter`` and the
    preemption handler's ``checkpointed_runs`` swap places)."""
    ours, theirs = _read_every_tensor(path), _read_every_tensor(reference)
    del ours[OBJECT_GRAPH], theirs[OBJECT_GRAPH]
    assert sorted(ours) == sorted(theirs)
    assert len(ours) > 20  # model, optimizer slots, counters: not an empty checkpoint
    different = [key for key in ours if not np.array_equal(ours[key], theirs[key])]
    assert not different, f"{len(different)} of {len(ours)} variables differ: {different[:10]}"


# ----------------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, data_dir):
    """The command run once, without interruption. It starts in the background, overlapping the
    first test's runs (to save time on two cores); calling the returned function waits for it
    and returns its final checkpoint."""
    root = tmp_path_factory.mktemp("uninterrupted")
    run = _Run(_command(root / "run", data_dir), str(root / "uninterrupted"))

    def final_checkpoint() -> str:
        assert run.process.wait(timeout=RUN_TIMEOUT) == 0, run.stderr_tail()
        assert "resumed from" not in run.stdout()
        return _final_checkpoint(root / "run")

    yield final_checkpoint
    run.clean_up()


@pytest.fixture
def start(tmp_path):
    """Starts background runs; any still alive (or stopped) when the test ends is killed."""
    runs: list[_Run] = []

    def start_run(command: list[str], name: str) -> _Run:
        runs.append(_Run(command, str(tmp_path / name)))
        return runs[-1]

    yield start_run
    for run in runs:
        run.clean_up()


@dataclasses.dataclass(frozen=True)
class _Snapshot:
    """The checkpoint directory while the process was frozen during (or just after) a save."""

    number: int  # the checkpoint being saved
    stage: str  # "staging": ckpt-N_temp had just appeared; "merging": ckpt-N.data-* had too
    in_progress: bool  # ckpt-N_temp still existed: frozen before the save finished
    index_exists: bool  # ckpt-N.index existed (while in progress: written in place, partial)
    listed: list[str]
    broken: list[str]


def _freeze(run: _Run, checkpoint_dir: str, number: int, stage: str) -> _Snapshot:
    """SIGSTOPs the run (left stopped) and reads the checkpoint directory."""
    os.kill(run.process.pid, signal.SIGSTOP)
    _wait_until_stopped(run.process.pid)  # from here on the directory cannot change
    listed, broken = _listed_and_broken(checkpoint_dir)
    return _Snapshot(
        number,
        stage,
        in_progress=number in _saves_in_progress(checkpoint_dir),
        index_exists=os.path.exists(os.path.join(checkpoint_dir, f"ckpt-{number}.index")),
        listed=listed,
        broken=broken,
    )


@pytest.fixture(scope="module")
def killed_during_a_save(tmp_path_factory, data_dir) -> tuple:
    """The command run until a save is killed half-way: a workdir (kept pristine: tests work on
    copies of it) and one :class:`_Snapshot` per freeze, the last one the killed save's.

    The process is frozen with SIGSTOP twice per save, so that what is on disk is exactly what
    a SIGKILL at that instant would leave, and the directory is read: when ``ckpt-N_temp``
    appears ("staging"), and when ``ckpt-N.data-*`` gets its final name ("merging": the index
    is then written in place; in about a third of the saves the freeze finds ``ckpt-N.index``
    present with the save unfinished, and sometimes the state file mid-sweep). The
    first save caught staging from ``ckpt-{KILL_DURING_SAVE_FROM}`` on is SIGKILLed for real;
    otherwise the run goes on with SIGCONT. (A save takes a few ms and the directory is polled
    every 0.5 ms: in practice every save is caught staging.)
    """
    root = tmp_path_factory.mktemp("killed_during_a_save")
    checkpoint_dir = str(root / "run" / "checkpoints")
    run = _Run(_command(root / "run", data_dir), str(root / "killed"))
    snapshots: list[_Snapshot] = []
    try:
        while True:
            run.check_alive(f"a save in progress from ckpt-{KILL_DURING_SAVE_FROM} on")
            starting = _saves_in_progress(checkpoint_dir) - {s.number for s in snapshots}
            if not starting:
                time.sleep(SAVE_POLL_SECONDS)
                continue
            number = max(starting)
            snapshots.append(_freeze(run, checkpoint_dir, number, "staging"))
            if snapshots[-1].in_progress and number >= KILL_DURING_SAVE_FROM:
                run.kill()  # SIGKILL reaches a stopped process
                break
            os.kill(run.process.pid, signal.SIGCONT)
            data = os.path.join(checkpoint_dir, f"ckpt-{number}.data-00000-of-00001")
            give_up = time.monotonic() + 10
            while not os.path.exists(data) and time.monotonic() < give_up:
                if run.process.poll() is not None:
                    break
                # spin, no sleep: from here to the state file's rewrite takes about a millisecond
            run.check_alive(f"the merge of ckpt-{number}")
            snapshots.append(_freeze(run, checkpoint_dir, number, "merging"))
            os.kill(run.process.pid, signal.SIGCONT)
    finally:
        run.clean_up()
    return root / "run", snapshots


def _copy(source, tmp_path):
    workdir = tmp_path / "run"
    shutil.copytree(source, workdir)  # the recorded workdir is a run option: a copy resumes
    return workdir


# -------------------------------------------------------------------------------------- tests
def test_a_run_killed_three_times_resumes_each_time_and_ends_bit_identical(
    uninterrupted, data_dir, tmp_path, start
):
    """Kill points ``KILL_POINTS``: the first run is killed, then its re-run, then that one's
    re-run (the last kill after the epoch boundary); each re-run of the same command must say it
    resumed from the newest listed checkpoint, and the last one finishes the run."""
    workdir = tmp_path / "run"
    checkpoint_dir = str(workdir / "checkpoints")
    command = _command(workdir, data_dir)
    latest = 0
    for i, number in enumerate(KILL_POINTS):
        run = start(command, f"killed{i}")
        resumed_from, latest = latest, _kill_when_listed(run, checkpoint_dir, number)
        _assert_only_complete_checkpoints_listed(*_listed_and_broken(checkpoint_dir))
        if resumed_from:
            assert f"ckpt-{resumed_from} at step {resumed_from}" in run.stdout(), run.stdout()
        else:
            assert "resumed from" not in run.stdout()
    result = _rerun(command)
    assert _resumed_step(result) == latest
    _assert_bit_identical(_final_checkpoint(workdir), uninterrupted())


def test_a_kill_during_a_save_leaves_only_complete_checkpoints_listed(
    killed_during_a_save, uninterrupted, data_dir, tmp_path
):
    """At every freeze the state file names only complete checkpoints, and never the one being
    written (not even once its ``ckpt-N.index`` exists); after the kill during ``ckpt-N``'s
    save, the re-run resumes from ``ckpt-N-5``."""
    source, snapshots = killed_during_a_save
    assert snapshots[-1].in_progress and snapshots[-1].stage == "staging"
    assert {s.stage for s in snapshots} == {"staging", "merging"}
    for snapshot in snapshots:
        _assert_only_complete_checkpoints_listed(snapshot.listed, snapshot.broken)
        if snapshot.in_progress:
            assert all(_checkpoint_number(p) < snapshot.number for p in snapshot.listed), snapshot
    killed = snapshots[-1].number
    workdir = _copy(source, tmp_path)
    listed, broken = _listed_and_broken(str(workdir / "checkpoints"))
    assert not broken and _checkpoint_number(listed[-1]) == killed - CHECKPOINT_EVERY
    result = _rerun(_command(workdir, data_dir))
    assert _resumed_step(result) == killed - CHECKPOINT_EVERY
    _assert_bit_identical(_final_checkpoint(workdir), uninterrupted())


def _truncate(path: str) -> None:  # what a full disk or an interrupted copy leaves
    with open(path, "r+b") as f:
        f.truncate(os.path.getsize(path) // 2)


def _flip_bytes(path: str) -> None:  # bit rot: the size is right, a CRC does not match
    with open(path, "r+b") as f:
        f.seek(os.path.getsize(path) // 4)
        flipped = bytes(b ^ 0xFF for b in f.read(64))
        f.seek(-len(flipped), os.SEEK_CUR)
        f.write(flipped)


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(
            _truncate,
            id="truncated",
        ),
        pytest.param(_flip_bytes, id="corrupted"),
    ],
)
def test_a_damaged_newest_checkpoint_is_reported_and_the_previous_one_resumed(
    damage, killed_during_a_save, uninterrupted, data_dir, tmp_path
):
    """After the kill, the newest listed checkpoint's data file is damaged. The re-run must say
    that it is unreadable and resume from the checkpoint before it (not from scratch), and
    still end bit-identical."""
    source, _ = killed_during_a_save
    workdir = _copy(source, tmp_path)
    checkpoint_dir = workdir / "checkpoints"
    listed, _ = _listed_and_broken(str(checkpoint_dir))
    newest = _checkpoint_number(listed[-1])
    assert len(listed) >= 2
    (data_file,) = checkpoint_dir.glob(f"ckpt-{newest}.data-*")
    damage(str(data_file))
    assert not _is_complete(listed[-1])
    result = _rerun(_command(workdir, data_dir))
    assert f"ckpt-{newest} is unreadable" in result.stderr, result.stderr[-3000:]
    assert "trying the previous one" in result.stderr
    assert _resumed_step(result) == newest - CHECKPOINT_EVERY  # not 0: not from scratch
    _assert_bit_identical(_final_checkpoint(workdir), uninterrupted())
