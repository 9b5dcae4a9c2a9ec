import keras
import numpy as np
import pytest
import scipy.linalg
import tensorflow as tf
from scipy import special, stats

from yeehaw_tf.metrics.generative import (
    GenerativeScorer,
    classifier_features_model,
    feature_statistics,
    frechet_distance,
    inception_score,
    real_data_reference,
    sqrtm_psd,
    trace_sqrt_product,
)

# tolerances, in one place
EXACT = {"rtol": 1e-10, "atol": 1e-12}  # float64 against a float64 reference
# singular matrices: rounding-level eigenvalues (~1e-16) have square roots ~1e-8, in every method
SINGULAR = {"rtol": 1e-6, "atol": 1e-6}
MODEL = {"rtol": 1e-5, "atol": 1e-6}  # float32 classifier outputs


def _covariances(samples, dims=8, seed=0):
    rng = np.random.default_rng(seed)
    first = np.cov(rng.normal(size=(samples, dims)), rowvar=False)
    second = np.cov(rng.normal(size=(samples, dims)) * 2.0 + 1.0, rowvar=False)
    return first, second


def _trace_sqrt_reference(sigma1, sigma2):  # from the eigenvalues of the product itself
    values = np.linalg.eigvals(sigma1 @ sigma2).real
    return np.sum(np.sqrt(np.clip(values, 0.0, None)))


def _frechet_reference(mu1, sigma1, mu2, sigma2):
    covmean = scipy.linalg.sqrtm(sigma1 @ sigma2).real
    return np.sum((mu1 - mu2) ** 2) + np.trace(sigma1 + sigma2 - 2.0 * covmean)


def _inception_reference(p, splits=1):  # a loop over rows, scipy's KL
    n, scores = len(p), []
    for i in range(splits):
        part = p[i * n // splits : (i + 1) * n // splits]
        marginal = part.mean(axis=0)
        kl = [stats.entropy(row, marginal) for row in part]
        assert np.allclose(kl, special.rel_entr(part, marginal).sum(axis=1))
        scores.append(np.exp(np.mean(kl)))
    return np.mean(scores), np.std(scores)


def test_sqrtm_psd_equals_scipy_on_an_spd_covariance():
    sigma, _ = _covariances(samples=50)
    root = sqrtm_psd(sigma)
    np.testing.assert_allclose(root, scipy.linalg.sqrtm(sigma).real, **EXACT)
    np.testing.assert_allclose(root, root.T, **EXACT)
    np.testing.assert_allclose(root @ root, sigma, **EXACT)


def test_sqrtm_psd_of_a_rank_deficient_covariance():
    sigma, _ = _covariances(samples=5)  # rank 4 in 8 dims
    assert np.linalg.matrix_rank(sigma) == 4
    root = sqrtm_psd(sigma)
    np.testing.assert_allclose(root @ root, sigma, **EXACT)
    assert np.linalg.eigvalsh(root).min() >= 0.0
    np.testing.assert_allclose(root, scipy.linalg.sqrtm(sigma).real, **SINGULAR)


@pytest.mark.parametrize("samples", [50, 5], ids=["spd", "rank_deficient"])
def test_trace_sqrt_product_equals_scipy(samples):
    sigma1, sigma2 = _covariances(samples)
    tolerance = EXACT if samples > 8 else SINGULAR
    ours = trace_sqrt_product(sigma1, sigma2)
    np.testing.assert_allclose(ours, _trace_sqrt_reference(sigma1, sigma2), **tolerance)
    scipy_trace = np.trace(scipy.linalg.sqrtm(sigma1 @ sigma2)).real
    np.testing.assert_allclose(ours, scipy_trace, **tolerance)
    np.testing.assert_allclose(ours, trace_sqrt_product(sigma2, sigma1), **tolerance)


@pytest.mark.parametrize("samples", [50, 5], ids=["spd", "rank_deficient"])
def test_frechet_distance_equals_the_scipy_formula(samples):
    sigma1, sigma2 = _covariances(samples)
    rng = np.random.default_rng(1)
    mu1, mu2 = rng.normal(size=8), rng.normal(size=8)
    tolerance = EXACT if samples > 8 else SINGULAR
    np.testing.assert_allclose(
        frechet_distance(mu1, sigma1, mu2, sigma2),
        _frechet_reference(mu1, sigma1, mu2, sigma2),
        **tolerance,
    )


def test_frechet_distance_of_identical_statistics_is_zero():
    for samples in (50, 5):
        sigma, _ = _covariances(samples)
        mu = np.arange(8.0)
        assert abs(frechet_distance(mu, sigma, mu, sigma)) < 1e-10 * np.trace(sigma)


def test_frechet_distance_of_one_dimensional_gaussians():
    # W2^2 between N(m1, s1^2) and N(m2, s2^2) is (m1 - m2)^2 + (s1 - s2)^2
    for m1, s1, m2, s2 in ((0.0, 1.0, 3.0, 2.0), (-1.5, 0.3, 2.0, 4.0), (1.0, 2.0, 1.0, 2.0)):
        value = frechet_distance([m1], [[s1**2]], [m2], [[s2**2]])
        np.testing.assert_allclose(value, (m1 - m2) ** 2 + (s1 - s2) ** 2, **EXACT)


def test_feature_statistics_equal_numpy():
    features = np.random.default_rng(0).normal(size=(20, 6)).astype(np.float32)
    mu, sigma = feature_statistics(features)
    assert mu.dtype == sigma.dtype == np.float64
    np.testing.assert_allclose(mu, features.astype(np.float64).mean(axis=0), **EXACT)
    np.testing.assert_allclose(sigma, np.cov(features.astype(np.float64), rowvar=False), **EXACT)


def test_inception_score_of_identical_uniform_predictions_is_one():
    mean, std = inception_score(np.full((12, 5), 0.2))
    np.testing.assert_allclose(mean, 1.0, **EXACT)
    assert std == 0.0


def test_inception_score_of_confident_even_predictions_is_the_class_count():
    probabilities = np.eye(4)[np.arange(20) % 4]  # zeros everywhere else: 0 log 0 = 0
    np.testing.assert_allclose(inception_score(probabilities)[0], 4.0, **EXACT)
    mean, std = inception_score(probabilities, splits=5)  # each split holds each class once
    np.testing.assert_allclose([mean, std], [4.0, 0.0], **EXACT)


@pytest.mark.parametrize("splits", [1, 3, 7])
def test_inception_score_equals_scipy(splits):
    logits = np.random.default_rng(0).normal(size=(23, 6)) * 2.0
    probabilities = special.softmax(logits, axis=1)
    probabilities[0] = np.eye(6)[2]  # exact zeros in one row
    np.testing.assert_allclose(
        inception_score(probabilities, splits=splits),
        _inception_reference(probabilities, splits),
        **EXACT,
    )


def _classifier(size=8, channels=1, classes=10):
    inputs = keras.Input((size, size, channels))
    x = keras.layers.Rescaling(1.0 / 8.0)(inputs)  # confident enough: IS well above 1
    x = keras.layers.Conv2D(6, 3, padding="same", activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    logits = keras.layers.Dense(classes, name="logits")(x)
    return keras.Model(inputs, logits, name="tiny")


def _images(n=48, size=8, channels=1, seed=0):
    rng = np.random.default_rng(seed)  # noise of varied brightness: varied features
    brightest = rng.integers(16, 256, size=(n, 1, 1, 1))
    return rng.integers(0, brightest, size=(n, size, size, channels)).astype(np.uint8)


def test_classifier_features_model_reads_the_pooled_features_and_softmax():
    classifier = _classifier()
    images = _images(5).astype(np.float32)
    features, probabilities = classifier_features_model(classifier)(images)
    pooled = keras.Model(classifier.input, classifier.get_layer("pool").output)(images)
    np.testing.assert_allclose(features, pooled, **MODEL)
    logits = classifier(images)
    np.testing.assert_allclose(probabilities, keras.activations.softmax(logits), **MODEL)
    np.testing.assert_allclose(probabilities, special.softmax(np.float64(logits), 1), **MODEL)


def test_classifier_features_model_takes_the_main_head_of_several():
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.GlobalAveragePooling2D(name="pool")(keras.layers.Conv2D(4, 3)(inputs))
    hidden = keras.layers.Dense(5, activation="relu", name="hidden")(x)
    main = keras.layers.Dense(3, name="main")(hidden)
    aux = keras.layers.Dense(3, name="aux")(x)  # listed after the main head
    classifier = keras.Model(inputs, [main, aux])
    images = _images(3).astype(np.float32)
    features, probabilities = classifier_features_model(classifier)(images)
    np.testing.assert_allclose(features, keras.Model(inputs, hidden)(images), **MODEL)
    main_logits = classifier(images)[0]
    np.testing.assert_allclose(probabilities, special.softmax(np.float64(main_logits), 1), **MODEL)


def test_scorer_fid_of_the_real_set_is_zero_and_grows_with_noise():
    real = _images()
    scorer = GenerativeScorer(_classifier(), real)
    scale = np.trace(scorer.real_sigma) + scorer.real_mu @ scorer.real_mu
    scores = scorer.score(real)
    assert set(scores) == {"inception_score", "inception_score_std", "fid"}
    assert scores["fid"] < 1e-6 * scale
    assert 1.0 <= scores["inception_score"] <= 10.0 and scores["inception_score_std"] == 0.0
    float_scores = scorer.score(real.astype(np.float32))  # float 0..255 is the same image
    np.testing.assert_allclose(float_scores["inception_score"], scores["inception_score"])
    rng = np.random.default_rng(1)
    fids = []
    for noise in (20.0, 80.0):
        noisy = np.clip(real + rng.normal(0.0, noise, real.shape) + noise, 0.0, 255.0)
        fids.append(scorer.score(noisy)["fid"])
    assert 1e-3 * scale < fids[0] < fids[1]


def test_scorer_batches_do_not_change_the_scores():
    real = _images()
    fake = np.clip(real + np.random.default_rng(1).normal(0.0, 30.0, real.shape), 0.0, 255.0)
    classifier = _classifier()
    whole = GenerativeScorer(classifier, real)
    batched = GenerativeScorer(classifier, real, batch_size=7)
    np.testing.assert_allclose(batched.real_mu, whole.real_mu, **MODEL)
    np.testing.assert_allclose(batched.real_sigma, whole.real_sigma, **MODEL)
    a, b = whole.score(fake, splits=4), batched.score(fake, splits=4)
    np.testing.assert_allclose([a[k] for k in sorted(a)], [b[k] for k in sorted(b)], rtol=1e-4)


def test_scorer_resizes_with_antialiasing():
    classifier = _classifier(size=8)
    real, fake = _images(size=16), _images(size=16, seed=1)
    scorer = GenerativeScorer(classifier, real, resize_to=(8, 8))

    def shrink(images):
        return tf.image.resize(np.float32(images), (8, 8), antialias=True).numpy()

    plain = GenerativeScorer(classifier, shrink(real))
    np.testing.assert_allclose(scorer.real_mu, plain.real_mu, **MODEL)
    ours, theirs = scorer.score(fake), plain.score(shrink(fake))
    np.testing.assert_allclose(
        [ours[k] for k in sorted(ours)], [theirs[k] for k in sorted(ours)], rtol=1e-4
    )


def test_real_data_reference_scores_test_against_train():
    classifier = _classifier()
    train, test = _images(60), _images(40, seed=2)
    reference = real_data_reference(classifier, train, test, splits=2)
    scores = GenerativeScorer(classifier, train).score(test, splits=2)
    assert reference == {
        "test_inception_score": scores["inception_score"],
        "test_inception_score_std": scores["inception_score_std"],
        "train_test_fid": scores["fid"],
    }


class _Subclassed(keras.Model):
    def __init__(self):
        super().__init__()
        self.head = keras.layers.Dense(3)

    def call(self, x):
        return self.head(keras.ops.mean(x, axis=(1, 2)))


def _no_dense():
    inputs = keras.Input((8, 8, 1))
    return keras.Model(inputs, keras.layers.GlobalAveragePooling2D()(inputs))


def _softmax_head():
    inputs = keras.Input((8, 8, 1))
    pooled = keras.layers.GlobalAveragePooling2D()(inputs)
    return keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(pooled))


def _after_head():  # the output is not the Dense head's output
    inputs = keras.Input((8, 8, 1))
    logits = keras.layers.Dense(3)(keras.layers.GlobalAveragePooling2D()(inputs))
    return keras.Model(inputs, keras.layers.Dropout(0.5)(logits))


def test_classifier_features_model_of_a_sequential_classifier():
    classifier = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(5, activation="relu"), keras.layers.Dense(3)]
    )
    x = np.random.default_rng(0).normal(size=(6, 4)).astype(np.float32)
    features, probabilities = classifier_features_model(classifier)(x)
    np.testing.assert_allclose(features, classifier.layers[0](x), **MODEL)
    np.testing.assert_allclose(
        probabilities, special.softmax(np.float64(classifier(x)), 1), **MODEL
    )


_PROBABILITIES = np.full((4, 2), 0.5)
_SIGMA = np.eye(2)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: inception_score(np.full(4, 0.25)), "probabilities"),
        (lambda: inception_score([[0.7, 0.7], [0.5, 0.5]]), "probabilities.*row 0"),
        (lambda: inception_score([[1.5, -0.5]]), "probabilities"),
        (lambda: inception_score([[2.0, 1.0]]), "probabilities.*logits"),
        (lambda: inception_score(_PROBABILITIES, splits=0), "splits"),
        (lambda: inception_score(_PROBABILITIES, splits=5), "splits"),
        (lambda: inception_score(_PROBABILITIES, splits=1.0), "splits"),
        (lambda: sqrtm_psd(np.ones((2, 3))), "square"),
        (lambda: sqrtm_psd([[1.0, 2.0], [0.0, 1.0]]), "symmetric"),
        (lambda: sqrtm_psd([[1.0, 0.0], [0.0, -1.0]]), "positive semi-definite"),
        (lambda: trace_sqrt_product(np.eye(2), np.eye(3)), "same shape"),
        (lambda: frechet_distance(np.zeros(2), _SIGMA, np.zeros(3), _SIGMA), "mu1.*mu2"),
        (lambda: frechet_distance(np.zeros((2, 1)), _SIGMA, np.zeros(2), _SIGMA), "mu1"),
        (lambda: frechet_distance(np.zeros(2), np.eye(3), np.zeros(2), _SIGMA), "sigma1"),
        (lambda: frechet_distance(np.zeros(2), _SIGMA, np.zeros(2), np.eye(3)), "sigma2"),
        (lambda: feature_statistics(np.zeros((1, 3))), "features.*at least 2"),
        (lambda: feature_statistics(np.zeros(3)), "features"),
        (lambda: classifier_features_model(_Subclassed()), "functional"),
        (lambda: classifier_features_model(_no_dense()), "Dense"),
        (lambda: classifier_features_model(_softmax_head()), "logits"),
        (lambda: classifier_features_model(_after_head()), "Dense head"),
        (lambda: classifier_features_model(classifier_features_model(_classifier())), "Dense"),
        (
            lambda: classifier_features_model(keras.Sequential([keras.layers.Dense(2)])),
            "functional",
        ),
        (lambda: GenerativeScorer(_classifier(), _images(size=16)), "real_images.*8, 8, 1"),
        (lambda: GenerativeScorer(_classifier(), _images(channels=3)), "real_images"),
        (lambda: GenerativeScorer(_classifier(), _images(1)), "real_images.*at least 2"),
        (lambda: GenerativeScorer(_classifier(), _images() - 128.0), "real_images.*0..255"),
        (lambda: GenerativeScorer(_classifier(), _images(), resize_to=(16, 16)), "resize_to"),
        (lambda: GenerativeScorer(_classifier(), _images(), resize_to=8), "resize_to"),
        (lambda: GenerativeScorer(_classifier(), _images(), batch_size=0), "batch_size"),
    ],
)
def test_bad_inputs_raise_value_errors_naming_the_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_scorer_rejects_generated_images_of_the_wrong_shape_or_range():
    scorer = GenerativeScorer(_classifier(), _images())
    with pytest.raises(ValueError, match=r"images must have shape \[N, 8, 8, 1\].*resize_to"):
        scorer.score(_images(size=16))
    with pytest.raises(ValueError, match="images.*0..255"):
        scorer.score(_images() / 127.5 - 1.0)
    with pytest.raises(ValueError, match="splits"):
        scorer.score(_images(), splits=100)
