"""Models: losses and accuracy against independent NumPy computations, flat-parameter maps."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from sgdsde.errors import IncompatibleChoiceError, ParameterRangeError, UnknownNameError
from sgdsde.learning import (
    MLP,
    LogisticRegression,
    accuracy,
    flatten_model,
    make_model,
    per_example_loss,
    predict_logits,
)

P, K, W, N = 3, 4, 5, 7


def _numpy_logits(model) -> np.ndarray:
    """Logits of the fixed batch X computed in NumPy from the model's own weights."""
    if isinstance(model, LogisticRegression):
        weight, bias = np.asarray(model.linear.weight), np.asarray(model.linear.bias)
        z = X @ weight.T + bias
    else:
        h = np.maximum(X @ np.asarray(model.hidden.weight).T + np.asarray(model.hidden.bias), 0)
        z = h @ np.asarray(model.output.weight).T + np.asarray(model.output.bias)
    return z[:, 0] if model.binary else z


def _numpy_cross_entropy(z: np.ndarray, y: np.ndarray, binary: bool) -> np.ndarray:
    """−ln P(y|x): ln(1 + e^z) − y z for one logit, log Σ e^z − z_y for softmax."""
    if binary:
        return np.logaddexp(0.0, z) - y * z
    top = z.max(axis=1)
    return top + np.log(np.exp(z - top[:, None]).sum(axis=1)) - z[np.arange(len(y)), y]


X = np.random.default_rng(0).normal(size=(N, P)) * 2.0
Y_MULTI = np.array([0, 1, 2, 3, 1, 0, 3])
Y_BINARY = np.array([0, 1, 1, 0, 1, 0, 0])

CASES = {
    "logistic": (dict(name="logistic"), Y_MULTI),
    "logistic-binary": (dict(name="logistic", binary=True), Y_BINARY),
    "mlp": (dict(name="mlp", width=W), Y_MULTI),
    "mlp-binary": (dict(name="mlp", width=W, binary=True), Y_BINARY),
}


def _build(case: str):
    kwargs, y = CASES[case]
    n_classes = 2 if kwargs.get("binary") else K
    model = make_model(n_features=P, n_classes=n_classes, dtype=jnp.float32, key=jax.random.key(1),
                       **kwargs)
    return model, y


@pytest.mark.parametrize("case", CASES)
def test_per_example_loss_matches_numpy_cross_entropy(case):
    model, y = _build(case)
    loss = per_example_loss(model, jnp.asarray(X, jnp.float32), jnp.asarray(y, jnp.int32))
    expected = _numpy_cross_entropy(_numpy_logits(model), y, model.binary)
    assert loss.shape == (N,)
    np.testing.assert_allclose(np.asarray(loss), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("case", CASES)
def test_logits_and_accuracy_match_numpy(case):
    model, y = _build(case)
    x = jnp.asarray(X, jnp.float32)
    z = _numpy_logits(model)
    np.testing.assert_allclose(np.asarray(predict_logits(model, x)), z, rtol=1e-5, atol=1e-6)
    predicted = (z > 0).astype(int) if model.binary else z.argmax(axis=1)
    assert float(accuracy(model, x, jnp.asarray(y, jnp.int32))) == pytest.approx(
        np.mean(predicted == y)
    )


def test_binary_loss_is_log_two_at_zero_logit():
    model = LogisticRegression(P, 2, binary=True, dtype=jnp.float32, key=jax.random.key(0))
    theta, unflatten = flatten_model(model)
    zero = unflatten(jnp.zeros_like(theta))
    loss = per_example_loss(zero, jnp.asarray(X, jnp.float32), jnp.asarray(Y_BINARY, jnp.int32))
    np.testing.assert_allclose(np.asarray(loss), np.log(2.0), rtol=1e-6)


@pytest.mark.parametrize("case", CASES)
def test_flatten_round_trip(case):
    model, _ = _build(case)
    theta, unflatten = flatten_model(model)
    rebuilt = unflatten(theta)
    for a, b in zip(jax.tree.leaves(model), jax.tree.leaves(rebuilt), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    shifted = theta + jnp.arange(theta.size, dtype=theta.dtype)
    again, _ = flatten_model(unflatten(shifted))
    np.testing.assert_array_equal(np.asarray(again), np.asarray(shifted))


def test_gradient_through_unflatten_equals_filter_grad():
    model, y = _build("mlp")
    x, y = jnp.asarray(X, jnp.float32), jnp.asarray(y, jnp.int32)
    theta, unflatten = flatten_model(model)

    def mean_loss(m):
        return jnp.mean(per_example_loss(m, x, y))

    flat_grad = jax.jit(jax.grad(lambda t: mean_loss(unflatten(t))))(theta)
    tree_grad, _ = flatten_model(eqx.filter_grad(mean_loss)(model))
    np.testing.assert_allclose(np.asarray(flat_grad), np.asarray(tree_grad), rtol=1e-6)


@pytest.mark.parametrize(
    ("kwargs", "count"),
    [
        (dict(name="logistic", n_features=784, n_classes=2, binary=True), 784 + 1),
        (dict(name="logistic", n_features=64, n_classes=10), 64 * 10 + 10),
        (dict(name="mlp", n_features=784, n_classes=10), 784 * 800 + 800 + 800 * 10 + 10),
        (dict(name="mlp", n_features=40, n_classes=10, width=7), 40 * 7 + 7 + 7 * 10 + 10),
        (dict(name="mlp", n_features=40, n_classes=2, width=7, binary=True), 40 * 7 + 7 + 7 + 1),
    ],
)
def test_parameter_counts(kwargs, count):
    theta, _ = flatten_model(make_model(key=jax.random.key(0), **kwargs))
    assert theta.shape == (count,)


def test_classes_match_names_and_init_is_seeded():
    key = jax.random.key(3)
    assert isinstance(make_model("logistic", P, K, key=key), LogisticRegression)
    assert isinstance(make_model("mlp", P, K, width=W, key=key), MLP)
    a, _ = flatten_model(make_model("mlp", P, K, width=W, key=key))
    b, _ = flatten_model(make_model("mlp", P, K, width=W, key=key))
    c, _ = flatten_model(make_model("mlp", P, K, width=W, key=jax.random.key(4)))
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert not np.array_equal(np.asarray(a), np.asarray(c))


def test_make_model_rejects_bad_choices():
    key = jax.random.key(0)
    with pytest.raises(UnknownNameError, match="name='cnn'.*logistic, mlp"):
        make_model("cnn", P, K, key=key)
    with pytest.raises(IncompatibleChoiceError, match="n_classes=2"):
        make_model("logistic", P, 3, binary=True, key=key)
    with pytest.raises(ParameterRangeError, match="n_features=0"):
        make_model("logistic", 0, K, key=key)
    with pytest.raises(ParameterRangeError, match="n_classes=1"):
        make_model("mlp", P, 1, key=key)
    with pytest.raises(ParameterRangeError, match="width=0"):
        make_model("mlp", P, K, width=0, key=key)


@pytest.mark.parametrize(("dataset", "model"), [("mnist1d", "mlp"), ("breast_cancer", "logistic"),
                                                ("digits", "logistic")])
def test_surface_initialisation_is_equinox_default_bit_for_bit(dataset, model):
    """learned_surface initialises in one compiled call; θ₀ is exactly Equinox's eager
    default initialisation from the same key (so every stored result keeps its start)."""
    import jax

    from sgdsde import learned_surface, load_dataset

    data = load_dataset(dataset, n_train=40, n_test=20)
    for seed in (0, 7):
        surface = learned_surface(data, model, width=32, seed=seed)
        eager = make_model(model, data.n_features, data.n_classes, width=32,
                           binary=model == "logistic" and data.n_classes == 2,
                           dtype=jnp.float32, key=jax.random.key(seed))
        np.testing.assert_array_equal(np.asarray(surface.theta_init),
                                      np.asarray(flatten_model(eager)[0]))
