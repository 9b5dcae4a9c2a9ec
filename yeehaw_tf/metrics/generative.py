"""Inception score and Fréchet distance of generated images, measured with our own classifier.

* Inception score (Salimans et al., 2016, "Improved Techniques for Training GANs"):
  ``IS = exp(E_x KL(p(y|x) || p(y)))``, high when each image is classified confidently and the
  classes are spread evenly.
* Fréchet distance (Heusel et al., 2017, "GANs Trained by a Two Time-Scale Update Rule Converge
  to a Local Nash Equilibrium"): the distance between two Gaussians fitted to the classifier's
  penultimate features, ``||mu1 - mu2||^2 + Tr(S1 + S2 - 2 sqrt(S1 S2))``.

Both are computed with a classifier of this package (any functional Keras classifier whose head
is a ``Dense`` layer giving logits), not with ImageNet's Inception-v3: the numbers compare models
scored by the same classifier only, never the values published in papers. Compare a generative
model against :func:`real_data_reference`, the scores real images get from the same classifier.

The maths is NumPy float64; TensorFlow only runs the classifier.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

ROW_SUM_TOLERANCE = 1e-3  # how far a row of probabilities may sum from 1
SYMMETRY_TOLERANCE = 1e-5  # relative asymmetry allowed in a covariance matrix (float32 ok)
PSD_TOLERANCE = 1e-4  # relative size of a negative eigenvalue still taken as rounding
BATCH_SIZE = 256


def inception_score(probabilities, splits: int = 1) -> tuple[float, float]:
    """The inception score of class probabilities ``[N, classes]`` (``p(y|x)``, one row per
    image), as ``(mean, std)`` over ``splits`` consecutive parts of the rows.

    In each part, ``p(y)`` is the mean of its rows and the score is
    ``exp(mean over rows of KL(p(y|x) || p(y)))``; zero probabilities contribute nothing
    (``0 log 0 = 0``). The parts are cut as in the original code (part ``i`` holds rows
    ``i * N // splits`` up to ``(i + 1) * N // splits``) and the std is the population std
    (``ddof=0``); with ``splits=1`` it is 0. The score lies in ``[1, classes]``: 1 when every
    image gets the same prediction, ``classes`` when the predictions are confident and spread
    evenly.
    """
    p = np.asarray(probabilities, dtype=np.float64)
    if p.ndim != 2 or p.shape[0] < 1 or p.shape[1] < 1:
        raise ValueError(
            f"probabilities must be a 2-D array [images, classes], got shape {p.shape}"
        )
    if not np.all(np.isfinite(p)) or np.any(p < 0):
        raise ValueError("probabilities must be finite and non-negative (pass softmax outputs)")
    sums = p.sum(axis=1)
    worst = int(np.argmax(np.abs(sums - 1.0)))
    if abs(sums[worst] - 1.0) > ROW_SUM_TOLERANCE:
        raise ValueError(
            f"probabilities: every row must sum to 1 (within {ROW_SUM_TOLERANCE}), row {worst} "
            f"sums to {sums[worst]:.6g}; pass softmax outputs, not logits"
        )
    n = p.shape[0]
    if (
        isinstance(splits, bool)
        or not isinstance(splits, (int, np.integer))
        or not 1 <= splits <= n
    ):
        raise ValueError(
            f"splits must be an integer in [1, {n}] (the number of rows), got {splits!r}"
        )
    scores = []
    for i in range(splits):
        part = p[i * n // splits : (i + 1) * n // splits]
        marginal = part.mean(axis=0)
        positive = part > 0  # where part > 0 the marginal is > 0 too
        log_ratio = np.log(np.where(positive, part, 1.0)) - np.log(
            np.where(positive, marginal, 1.0)
        )
        kl = np.sum(np.where(positive, part * log_ratio, 0.0), axis=1)
        scores.append(np.exp(kl.mean()))
    return float(np.mean(scores)), float(np.std(scores))


def _covariance(a, name: str) -> np.ndarray:
    """``a`` as a float64 symmetric matrix, validated: square, finite, symmetric."""
    a = np.asarray(a, dtype=np.float64)
    if a.ndim != 2 or a.shape[0] != a.shape[1] or a.shape[0] < 1:
        raise ValueError(f"{name} must be a square 2-D matrix, got shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} must be finite")
    scale = max(float(np.abs(a).max()), np.finfo(np.float64).tiny)
    if np.abs(a - a.T).max() > SYMMETRY_TOLERANCE * scale:
        raise ValueError(f"{name} must be symmetric (a covariance matrix)")
    return (a + a.T) / 2.0


def _psd_eigh(a: np.ndarray, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues (negative rounding clipped to 0) and eigenvectors of symmetric ``a``."""
    values, vectors = np.linalg.eigh(a)
    if values[0] < -PSD_TOLERANCE * max(abs(values[-1]), abs(values[0])):
        raise ValueError(
            f"{name} must be positive semi-definite (a covariance matrix); its smallest "
            f"eigenvalue is {values[0]:.6g}"
        )
    return np.clip(values, 0.0, None), vectors


def sqrtm_psd(a) -> np.ndarray:
    """The symmetric positive semi-definite square root of a symmetric PSD matrix ``a``
    (``[d, d]``, float64): ``V diag(sqrt(w)) V^T`` from ``a = V diag(w) V^T``, with the tiny
    negative eigenvalues of rounding clipped to 0, so rank-deficient covariances (fewer samples
    than dimensions) are fine."""
    a = _covariance(a, "a")
    values, vectors = _psd_eigh(a, "a")
    return (vectors * np.sqrt(values)) @ vectors.T


def trace_sqrt_product(sigma1, sigma2) -> float:
    """``Tr(sqrt(sigma1 @ sigma2))`` for symmetric PSD ``sigma1``, ``sigma2`` (``[d, d]``).

    ``sigma1 @ sigma2`` is not symmetric, but with ``S = sqrt(sigma1)`` it has the eigenvalues
    of ``S @ sigma2 @ S`` (``AB`` and ``BA`` share them), which is symmetric PSD; the trace is
    the sum of their square roots. Two symmetric eigendecompositions, exact for singular
    matrices too: no ``scipy.linalg.sqrtm``, no complex parts to drop, no offset on the
    diagonal."""
    sigma1 = _covariance(sigma1, "sigma1")
    sigma2 = _covariance(sigma2, "sigma2")
    if sigma1.shape != sigma2.shape:
        raise ValueError(
            f"sigma1 {sigma1.shape} and sigma2 {sigma2.shape} must have the same shape"
        )
    _psd_eigh(sigma2, "sigma2")  # validated only
    root = sqrtm_psd(sigma1)
    product = root @ sigma2 @ root
    values = np.linalg.eigvalsh((product + product.T) / 2.0)
    return float(np.sum(np.sqrt(np.clip(values, 0.0, None))))


def frechet_distance(mu1, sigma1, mu2, sigma2) -> float:
    """The Fréchet (2-Wasserstein) distance between ``N(mu1, sigma1)`` and ``N(mu2, sigma2)``:
    ``||mu1 - mu2||^2 + Tr(sigma1 + sigma2 - 2 sqrt(sigma1 sigma2))`` (Heusel et al., 2017).
    Means ``[d]``, covariances ``[d, d]``. It is a squared distance: rounding can make the
    exact value 0 come out as a tiny negative number, which is returned as 0."""
    mu1 = np.asarray(mu1, dtype=np.float64)
    mu2 = np.asarray(mu2, dtype=np.float64)
    for name, mu in (("mu1", mu1), ("mu2", mu2)):
        if mu.ndim != 1 or not np.all(np.isfinite(mu)):
            raise ValueError(f"{name} must be a finite 1-D vector [d], got shape {mu.shape}")
    if mu1.shape != mu2.shape:
        raise ValueError(f"mu1 {mu1.shape} and mu2 {mu2.shape} must have the same shape")
    d = mu1.shape[0]
    for name, sigma in (("sigma1", sigma1), ("sigma2", sigma2)):
        if np.shape(sigma) != (d, d):
            raise ValueError(
                f"{name} must have shape ({d}, {d}) to match the means, got {np.shape(sigma)}"
            )
    sigma1 = _covariance(sigma1, "sigma1")
    sigma2 = _covariance(sigma2, "sigma2")
    diff = mu1 - mu2
    value = (
        diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * trace_sqrt_product(sigma1, sigma2)
    )
    return float(max(value, 0.0))


def feature_statistics(features) -> tuple[np.ndarray, np.ndarray]:
    """The mean ``[d]`` and covariance ``[d, d]`` (``ddof=1``, as ``np.cov(rowvar=False)``) of
    features ``[N, d]``, ``N >= 2``, in float64."""
    f = np.asarray(features, dtype=np.float64)
    if f.ndim != 2 or f.shape[0] < 2 or f.shape[1] < 1:
        raise ValueError(
            f"features must be a 2-D array [samples, dims] with at least 2 samples, got shape "
            f"{f.shape}"
        )
    if not np.all(np.isfinite(f)):
        raise ValueError("features must be finite")
    mu = f.mean(axis=0)
    centred = f - mu
    return mu, centred.T @ centred / (f.shape[0] - 1)


def classifier_features_model(classifier: keras.Model) -> keras.Model:
    """A model from ``classifier``'s input to ``[features, probabilities]``.

    The head is the ``Dense`` layer that produces the classifier's output (its last ``Dense``);
    with several outputs (auxiliary heads) the first is the main one. ``features`` ``[batch, d]``
    is the head's input (for the classifiers of this package, the globally pooled penultimate
    activations); ``probabilities`` ``[batch, classes]`` is the softmax of the output, which
    must therefore be logits. The classifier must be functional (or ``Sequential`` with an
    ``Input``): a subclassed model has no graph to cut.
    """
    if not isinstance(classifier, keras.Model):
        raise ValueError(f"classifier must be a keras.Model, got {type(classifier).__name__}")
    try:
        inputs, outputs = classifier.inputs, classifier.outputs
    except (AttributeError, ValueError):
        inputs = outputs = None
    if not inputs or not outputs:
        raise ValueError(
            f"classifier {classifier.name!r} must be a functional (or built Sequential) model: "
            "features are read from its graph, which a subclassed model does not have"
        )
    if len(inputs) != 1:
        raise ValueError(
            f"classifier must have one image input, {classifier.name!r} has {len(inputs)}"
        )
    main = outputs[0]
    head = next(
        (
            layer
            for layer in classifier.layers
            if isinstance(layer, keras.layers.Dense) and _output_or_none(layer) is main
        ),
        None,
    )
    if head is None:
        which = "main (first) output" if len(outputs) > 1 else "output"
        raise ValueError(
            f"classifier {classifier.name!r}: its {which} must come straight from a "
            "keras.layers.Dense head giving logits (features are read at the head's input); "
            "it does not"
        )
    if head.activation is keras.activations.softmax:
        raise ValueError(
            f"classifier head {head.name!r} applies a softmax: the classifier must output logits"
        )
    try:
        features = head.input
        probabilities = keras.layers.Softmax(dtype="float32", name="yeehaw_scorer_probabilities")(
            main
        )
        return keras.Model(inputs[0], [features, probabilities], name=f"{classifier.name}_scorer")
    except (AttributeError, ValueError) as error:
        raise ValueError(
            f"cannot read the features of classifier {classifier.name!r} at its head "
            f"{head.name!r} (a Dense inside a nested model?): {error}"
        ) from error


def _output_or_none(layer: keras.layers.Layer):
    try:
        return layer.output
    except (AttributeError, ValueError):  # never called, or called several times
        return None


class GenerativeScorer:
    """Inception score and FID of generated images against a fixed set of real images, both
    measured with ``classifier`` (see :func:`classifier_features_model`; it must output logits).

    Images are ``[N, H, W, C]``, uint8 or float pixel values in ``0..255`` (the convention of
    this package's classifiers, which standardise their input themselves; a generator's
    ``[-1, 1]`` output must be mapped with ``(x + 1) * 127.5`` first). ``H, W, C`` must match
    the classifier's input, unless ``resize_to=(height, width)`` is given: then images of any
    size are resized to it with ``tf.image.resize(..., antialias=True)`` (bilinear) before the
    classifier. Resizing without antialiasing aliases and shifts the FID, a known pitfall.

    The statistics of the real features are computed once, at construction. FID is biased
    upwards for small sets: compare scores computed from sets of the same size.
    """

    def __init__(
        self,
        classifier: keras.Model,
        real_images,
        resize_to: tuple[int, int] | None = None,
        batch_size: int = BATCH_SIZE,
    ):
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        self.model = classifier_features_model(classifier)
        self.input_shape = tuple(self.model.inputs[0].shape[1:])
        if len(self.input_shape) != 3:
            raise ValueError(
                f"classifier must take images [batch, H, W, C], its input has shape "
                f"{(None, *self.input_shape)}"
            )
        if resize_to is not None:
            if (
                not isinstance(resize_to, (tuple, list))
                or len(resize_to) != 2
                or not all(isinstance(s, int) and not isinstance(s, bool) for s in resize_to)
                or min(resize_to) < 1
            ):
                raise ValueError(
                    f"resize_to must be None or (height, width), positive integers, got {resize_to}"
                )
            resize_to = tuple(resize_to)
            fixed = self.input_shape[:2]
            if any(f is not None and f != s for f, s in zip(fixed, resize_to, strict=True)):
                raise ValueError(
                    f"resize_to {resize_to} must equal the classifier's input size {fixed}"
                )
        self.resize_to = resize_to
        self.batch_size = batch_size
        features, _ = self.features_and_probabilities(real_images, "real_images", 2)
        self.real_mu, self.real_sigma = feature_statistics(features)

    def _check(self, images, name: str, min_images: int) -> np.ndarray:
        images = np.asarray(images)
        expected = (
            (None, None, self.input_shape[2]) if self.resize_to is not None else self.input_shape
        )
        shown = "[N, " + ", ".join("any" if s is None else str(s) for s in expected) + "]"
        if images.ndim != 4 or any(
            e is not None and e != s for e, s in zip(expected, images.shape[1:], strict=True)
        ):
            fix = "" if self.resize_to is not None else " (or pass resize_to=(height, width))"
            raise ValueError(f"{name} must have shape {shown}, got {images.shape}{fix}")
        if images.shape[0] < min_images:
            raise ValueError(
                f"{name} must hold at least {min_images} images, got {images.shape[0]}"
            )
        if images.dtype != np.uint8:
            if not np.issubdtype(images.dtype, np.number) or np.issubdtype(
                images.dtype, np.complexfloating
            ):
                raise ValueError(f"{name} must be uint8 or float pixels, got dtype {images.dtype}")
            if not np.all(np.isfinite(images)) or images.min() < 0 or images.max() > 255:
                raise ValueError(
                    f"{name} must hold finite pixel values in 0..255, got "
                    f"[{images.min()}, {images.max()}] (map [-1, 1] outputs with (x + 1) * 127.5)"
                )
        return images

    def features_and_probabilities(
        self, images, name: str = "images", min_images: int = 1
    ) -> tuple[np.ndarray, np.ndarray]:
        """The classifier's features ``[N, d]`` and probabilities ``[N, classes]`` (float64) of
        ``images``, run in batches of ``batch_size``."""
        images = self._check(images, name, min_images)
        features, probabilities = [], []
        for start in range(0, images.shape[0], self.batch_size):
            batch = tf.cast(images[start : start + self.batch_size], tf.float32)
            if self.resize_to is not None:
                batch = tf.image.resize(batch, self.resize_to, antialias=True)
            f, p = self.model(batch, training=False)
            features.append(np.asarray(f, dtype=np.float64))
            probabilities.append(np.asarray(p, dtype=np.float64))
        return np.concatenate(features), np.concatenate(probabilities)

    def score(self, images, splits: int = 1) -> dict[str, float]:
        """``{"inception_score", "inception_score_std", "fid"}`` of ``images`` (at least 2):
        the inception score over ``splits`` parts and the FID against the real images."""
        features, probabilities = self.features_and_probabilities(images, "images", 2)
        mean, std = inception_score(probabilities, splits=splits)
        mu, sigma = feature_statistics(features)
        fid = frechet_distance(mu, sigma, self.real_mu, self.real_sigma)
        return {"inception_score": mean, "inception_score_std": std, "fid": fid}


def real_data_reference(
    classifier: keras.Model,
    train_images,
    test_images,
    resize_to: tuple[int, int] | None = None,
    splits: int = 1,
    batch_size: int = BATCH_SIZE,
) -> dict[str, float]:
    """What real data scores with ``classifier``, the values a generative model is compared
    against: ``{"test_inception_score", "test_inception_score_std", "train_test_fid"}``, the
    inception score of the test images and the FID between the train and test images (the
    floor a generator trained on the train split can hope for, at that test-set size). Images
    as for :class:`GenerativeScorer`."""
    scorer = GenerativeScorer(classifier, train_images, resize_to=resize_to, batch_size=batch_size)
    scores = scorer.score(test_images, splits=splits)
    return {
        "test_inception_score": scores["inception_score"],
        "test_inception_score_std": scores["inception_score_std"],
        "train_test_fid": scores["fid"],
    }
