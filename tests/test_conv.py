"""conv1d / conv2d: hand-written backward against jax.vjp, forward against PyTorch, init, errors."""
import itertools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jax import lax

from checks import (assert_backward_matches_vjp, assert_backward_matches_vjp_jit, build,
                    gaussian)
from jaxnn import initializers
from jaxnn.layers.conv import conv1d, conv2d, conv_forward, conv_matmul, conv_patches
from jaxnn.layers.window import effective_size, output_size, resolve_padding, window_geometry


def expected_size(n, k, s, pad, d):
    """Output size from the brief's closed forms (independent of `output_size`)."""
    if pad == "SAME":
        return math.ceil(n / s)
    lo, hi = (0, 0) if pad == "VALID" else pad
    return (n + lo + hi - d * (k - 1) - 1) // s + 1


def pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def explicit_pads(padding, sizes, kernel, stride, dilation):
    """Explicit (lo, hi) pairs from JAX's own `lax.padtype_to_pads` (the oracle for SAME)."""
    if isinstance(padding, str):
        windows = [d * (k - 1) + 1 for k, d in zip(kernel, dilation)]
        return [tuple(p) for p in lax.padtype_to_pads(sizes, windows, stride, padding)]
    if isinstance(padding, int):
        return [(padding, padding)] * len(sizes)
    return [tuple(p) for p in padding]


# (H, W), C, kernel_size, stride, padding, dilation: strides 1/2/3, SAME/VALID/explicit,
# dilation 1/2, odd and even sizes, channels 1 and 3, kernels 1, 2, 3, (3, 2); leftover
# rows ((n + lo + hi - k_eff) mod s != 0, also >= d) and padding wider than k_eff - 1.
CONV2D_CASES = [
    ((7, 5), 1, 3, 1, "SAME", 1),
    ((7, 5), 3, 3, 2, "SAME", 1),
    ((8, 8), 3, 3, 3, "SAME", 1),
    ((8, 8), 1, 2, 2, "SAME", 1),
    ((8, 8), 3, 1, 3, "SAME", 1),
    ((7, 5), 3, (3, 2), (2, 1), "VALID", 1),
    ((8, 8), 3, 3, 3, "VALID", 1),
    ((7, 5), 1, 1, 2, "VALID", 1),
    ((8, 8), 3, 2, 1, "VALID", 1),
    ((8, 8), 3, 3, 1, "VALID", 2),
    ((7, 5), 3, 3, 2, "SAME", 2),
    ((8, 8), 1, (3, 2), 3, "SAME", 2),
    ((7, 5), 3, 2, 3, "VALID", 2),
    ((7, 5), 3, 3, 1, ((2, 0), (1, 3)), 1),
    ((8, 8), 1, 3, 2, ((0, 0), (2, 2)), 1),
    ((7, 5), 3, 2, 2, 4, 1),
    ((8, 8), 3, (3, 2), (2, 3), ((4, 1), (0, 5)), (1, 2)),
    ((7, 5), 3, 3, 3, ((1, 1), (1, 1)), 2),
    ((1, 1), 1, 3, 2, "SAME", 1),
]

# L, C, kernel_size, stride, padding, dilation
CONV1D_CASES = [
    (7, 1, 3, 1, "SAME", 1),
    (8, 3, 2, 2, "SAME", 1),
    (8, 3, 3, 3, "VALID", 1),
    (7, 3, 1, 2, "VALID", 1),
    (7, 1, 3, 2, "SAME", 2),
    (8, 3, 2, 3, "VALID", 2),
    (7, 3, 3, 2, ((3, 1),), 1),
    (8, 1, 3, 1, 2, 2),
]


def conv2d_case(case, features=2, use_bias=True):
    (h, w), c, kernel, stride, padding, dilation = case
    layer = conv2d(features, kernel, stride, padding, dilation, use_bias=use_bias)
    out_shape, params = build(layer, (h, w, c))
    return layer, out_shape, params, gaussian((2, h, w, c), 50)


def conv1d_case(case, features=2):
    length, c, kernel, stride, padding, dilation = case
    layer = conv1d(features, kernel, stride, padding, dilation)
    out_shape, params = build(layer, (length, c))
    return layer, out_shape, params, gaussian((2, length, c), 51)


# ------------------------------------------------------------------------ backward == VJP

def test_conv2d_backward_matches_vjp():
    cases = [conv2d_case(case) for case in CONV2D_CASES]
    cases.append(conv2d_case(((7, 5), 3, 3, 2, "SAME", 1), use_bias=False))
    results = assert_backward_matches_vjp_jit(*[(layer, p, x) for layer, _, p, x in cases])
    for (_, _, params, x), (dp, dx) in zip(cases, results):
        assert set(dp) == set(params) and dx.shape == x.shape
        assert float(jnp.abs(dp["W"]).max()) > 0


def test_conv1d_backward_matches_vjp():
    cases = [conv1d_case(case) for case in CONV1D_CASES]
    assert_backward_matches_vjp_jit(*[(layer, p, x) for layer, _, p, x in cases])


def test_conv2d_backward_eager_through_shared_helper():
    """The un-jitted path, through `checks.assert_backward_matches_vjp`."""
    layer, _, params, x = conv2d_case(((7, 5), 3, (3, 2), 2, "SAME", (2, 1)))
    assert_backward_matches_vjp(layer, params, x)


def test_bias_gradient_is_sum_over_batch_and_space():
    layer, _, params, x = conv2d_case(((7, 5), 3, 3, 2, "VALID", 1))
    dy = gaussian(layer.apply(params, x).shape, 3)
    dp, _ = layer.backward(params, x, dy)
    np.testing.assert_allclose(dp["b"], np.asarray(dy).sum(axis=(0, 1, 2)), rtol=1e-12)


@settings(max_examples=6, deadline=None, derandomize=True)
@given(st.data())
def test_random_conv2d_configurations(data):
    size = st.integers(1, 8)
    h, w, c = data.draw(size), data.draw(size), data.draw(st.integers(1, 3))
    kernel = (data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3)))
    stride = (data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3)))
    dilation = (data.draw(st.integers(1, 2)), data.draw(st.integers(1, 2)))
    padding = data.draw(st.one_of(
        st.sampled_from(["SAME", "VALID"]),
        st.tuples(st.tuples(st.integers(0, 3), st.integers(0, 3)),
                  st.tuples(st.integers(0, 3), st.integers(0, 3)))))
    pads = explicit_pads(padding, (h, w), kernel, stride, dilation)
    windows = [d * (k - 1) + 1 for k, d in zip(kernel, dilation)]
    if any(n + lo + hi < k for n, (lo, hi), k in zip((h, w), pads, windows)):
        with pytest.raises(ValueError, match="larger than the padded input"):
            conv2d(2, kernel, stride, padding, dilation).init(jax.random.key(0), (h, w, c))
        return
    layer, out_shape, params, x = conv2d_case(((h, w), c, kernel, stride, padding, dilation))
    assert out_shape[:2] == tuple(expected_size(n, k, s, p, d) for n, k, s, p, d in
                                  zip((h, w), kernel, stride, pads, dilation))
    assert_backward_matches_vjp_jit((layer, params, x))


# ------------------------- the autodiff forward (im2col + matmul) == lax.conv_general_dilated

def lax_conv(x, kernel, strides, pads, dilation):
    """The plain convolution ``conv_forward`` must equal, forward and under ``jax.vjp``."""
    sp = "DHW"[-(x.ndim - 2):]
    return lax.conv_general_dilated(x, kernel, strides, pads, rhs_dilation=dilation,
                                    dimension_numbers=("N" + sp + "C", sp + "IO", "N" + sp + "C"))


def conv_arguments(case, spatial_dims, seed):
    """x, kernel (3 output features), strides, explicit pads, dilation of a case, float64."""
    sizes, c, kernel, stride, padding, dilation = case
    sizes = (sizes,) if spatial_dims == 1 else sizes
    as_tuple = (lambda v: (v,)) if spatial_dims == 1 else pair
    kernel, stride, dilation = as_tuple(kernel), as_tuple(stride), as_tuple(dilation)
    pads = tuple(explicit_pads(padding, sizes, kernel, stride, dilation))
    return (gaussian((2, *sizes, c), seed), gaussian((*kernel, c, 3), seed + 1), stride, pads, dilation)


ALL_CONV_CASES = ([conv_arguments(case, 2, 2 * i) for i, case in enumerate(CONV2D_CASES)]
                  + [conv_arguments(case, 1, 100 + 2 * i) for i, case in enumerate(CONV1D_CASES)]
                  + [conv_arguments(((8, 8), 1, 5, 1, "SAME", 1), 2, 300),        # the digits CNN's
                     conv_arguments(((6, 7), 4, (3, 5), (2, 3), ((3, 0), (2, 4)), (2, 1)), 2, 302)])


def test_conv_forward_conv_matmul_and_their_grads_equal_lax_conv_float64():
    """`conv_forward` (the convolution, differentiated through `conv_matmul`) and
    `conv_matmul` (patches @ kernel) against ``lax.conv_general_dilated`` over strides,
    paddings (SAME, VALID, explicit, wider than the window), dilations, even/odd kernels and
    1-D/2-D: outputs to 1e-12, and ``jax.vjp``'s input and kernel gradients to 1e-12 relative."""
    dys = [gaussian(lax_conv(*args).shape, 500 + i) for i, args in enumerate(ALL_CONV_CASES)]

    @jax.jit
    def all_vjps(xs, kernels, dys):
        results = []
        for (_, _, strides, pads, dilation), x, kernel, dy in zip(ALL_CONV_CASES, xs, kernels, dys):
            vjps = []
            for fn in (conv_forward, conv_matmul, lax_conv):
                y, vjp = jax.vjp(lambda x_, k_, fn=fn: fn(x_, k_, strides, pads, dilation), x, kernel)
                vjps.append((y, *vjp(dy)))
            results.append(vjps)
        return results

    results = all_vjps([a[0] for a in ALL_CONV_CASES], [a[1] for a in ALL_CONV_CASES], dys)
    for case, (forward, matmul, plain) in zip(ALL_CONV_CASES, results):
        for ours, name in ((forward, "conv_forward"), (matmul, "conv_matmul")):
            for what, a, b in zip(("y", "dx", "dW"), ours, plain):
                assert a.dtype == jnp.float64 and a.shape == b.shape
                np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12 * float(jnp.abs(b).max()),
                                           err_msg=f"{name} {what}, strides/pads/dilation {case[2:]}")


def test_conv_forward_higher_order_and_forward_mode_equal_lax_conv():
    """The ``custom_jvp`` keeps forward mode and second derivatives: ``jax.jvp`` and the
    Hessian of a nonlinear loss in (x, W) equal those of ``lax.conv_general_dilated``."""
    x, kernel, strides, pads, dilation = conv_arguments(((5, 4), 2, (3, 2), (2, 1), ((1, 2), (0, 1)), (1, 2)), 2, 40)

    def loss(fn):
        return lambda x_, k_: jnp.sum(jnp.tanh(fn(x_, k_, strides, pads, dilation)) ** 2)

    tangents = (gaussian(x.shape, 41), gaussian(kernel.shape, 42))
    jvp_ours = jax.jvp(lambda x_, k_: conv_forward(x_, k_, strides, pads, dilation), (x, kernel), tangents)
    jvp_plain = jax.jvp(lambda x_, k_: lax_conv(x_, k_, strides, pads, dilation), (x, kernel), tangents)
    for a, b in zip(jvp_ours, jvp_plain):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12 * float(jnp.abs(b).max()))
    hessians = [jax.jit(jax.hessian(loss(fn), argnums=(0, 1)))(x, kernel) for fn in (conv_forward, lax_conv)]
    for a, b in zip(jax.tree_util.tree_leaves(hessians[0]), jax.tree_util.tree_leaves(hessians[1])):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12 * float(jnp.abs(b).max()))


def test_conv_reverse_mode_runs_no_convolution():
    """What ``jax.grad`` of `conv2d`'s apply derives holds no convolution beyond the
    forward one: the swapped-layout convolutions JAX derives from
    ``lax.conv_general_dilated`` run 10-70x slower inside ``lax.scan`` on XLA:CPU."""
    layer, _, params, x = conv2d_case(((7, 5), 3, 3, 2, "SAME", 2))
    loss = lambda p, x: jnp.sum(layer.apply(p, x) ** 2)
    jaxpr = str(jax.make_jaxpr(jax.grad(loss, argnums=(0, 1)))(params, x))
    assert jaxpr.count("conv_general_dilated[") == 1
    assert str(jax.make_jaxpr(loss)(params, x)).count("conv_general_dilated[") == 1


def test_conv_patches_layout_matches_the_flattened_kernel():
    """patches[n, o, (k, ci)] = xp[n, o*s + k*d, ci], taps row-major, channel fastest."""
    x = gaussian((1, 5, 6, 2), 7)
    patches = conv_patches(x, (2, 3), (2, 1), ((1, 0), (0, 2)), (1, 2), (3, 4))
    xp = np.pad(np.asarray(x), ((0, 0), (1, 0), (0, 2), (0, 0)))
    assert patches.shape == (1, 3, 4, 2 * 3 * 2)
    for i, j, ki, kj, ci in itertools.product(range(3), range(4), range(2), range(3), range(2)):
        assert patches[0, i, j, (ki * 3 + kj) * 2 + ci] == xp[0, 2 * i + ki, j + 2 * kj, ci]


# ------------------------------------------------------------------- forward vs PyTorch

def torch_conv(x, params, padding, kernel, stride, dilation):
    """``torch.nn.functional.conv{1,2}d`` on channels-first data, padded explicitly."""
    torch = pytest.importorskip("torch")
    functional = torch.nn.functional
    spatial = x.ndim - 2
    pads = explicit_pads(padding, x.shape[1:-1], kernel, stride, dilation)
    to_first = (0, x.ndim - 1, *range(1, x.ndim - 1))
    x_t = torch.from_numpy(np.array(x).transpose(to_first))
    torch_pad = [p for lo_hi in reversed(pads) for p in lo_hi]   # last axis first
    w_t = torch.from_numpy(np.array(params["W"]).transpose(spatial + 1, spatial, *range(spatial)))
    conv = functional.conv2d if spatial == 2 else functional.conv1d
    y = conv(functional.pad(x_t, torch_pad), w_t, torch.from_numpy(np.array(params["b"])),
             stride=stride, dilation=dilation)
    return y.numpy().transpose(0, *range(2, x.ndim), 1)


@pytest.mark.parametrize("case", CONV2D_CASES[::2])
def test_conv2d_forward_matches_torch(case):
    pytest.importorskip("torch")
    (h, w), c, kernel, stride, padding, dilation = case
    layer, out_shape, params, x = conv2d_case(case, features=3)
    y = layer.apply(params, x)
    assert y.shape == (2, *out_shape)
    expected = torch_conv(x, params, padding, pair(kernel), pair(stride), pair(dilation))
    np.testing.assert_allclose(y, expected, rtol=1e-10, atol=1e-12)


def test_conv1d_forward_matches_torch():
    pytest.importorskip("torch")
    for case in CONV1D_CASES:
        length, c, kernel, stride, padding, dilation = case
        layer, out_shape, params, x = conv1d_case(case, features=3)
        y = layer.apply(params, x)
        assert y.shape == (2, *out_shape)
        expected = torch_conv(x, params, padding, (kernel,), (stride,), (dilation,))
        np.testing.assert_allclose(y, expected, rtol=1e-10, atol=1e-12, err_msg=str(case))


def test_conv2d_forward_by_hand():
    """A 1-channel 3x3 example computed with the cross-correlation sum, by hand."""
    x = jnp.arange(9.0).reshape(1, 3, 3, 1)
    kernel = jnp.array([[1.0, 0.0], [0.0, -1.0]]).reshape(2, 2, 1, 1)
    layer = conv2d(1, 2, padding="VALID")
    y = layer.apply({"W": kernel, "b": jnp.array([0.5])}, x)
    # y[i, j] = x[i, j] - x[i+1, j+1] + 0.5 = -4 + 0.5 everywhere
    np.testing.assert_array_equal(y[0, :, :, 0], np.full((2, 2), -3.5))


# ------------------------------------------------------------------ arithmetic and init

def test_padding_and_output_size_match_xla():
    for n in range(1, 10):
        for k in range(1, 6):
            for s in range(1, 4):
                for mode in ("SAME", "VALID"):
                    if mode == "VALID" and k > n:
                        continue
                    (pad,) = resolve_padding(mode, (n,), (k,), (s,), "test")
                    assert pad == tuple(lax.padtype_to_pads((n,), (k,), (s,), mode)[0])
                    assert output_size(n, k, s, pad) == expected_size(n, k, s, mode, 1)



def test_window_geometry_with_dilation_matches_closed_form():
    """out = floor((n + lo + hi - d (k - 1) - 1) / s) + 1 on the dilated window k_eff."""
    for n in range(1, 9):
        for k in range(1, 5):
            for s in range(1, 4):
                for d in range(1, 4):
                    for padding in ("SAME", "VALID", ((1, 2),)):
                        k_eff = effective_size(k, d)
                        if k_eff > n + (3 if padding == ((1, 2),) else 0) and padding != "SAME":
                            continue
                        (pad,), (out,) = window_geometry("test", (n,), (k_eff,), (s,), padding)
                        mode = padding if isinstance(padding, str) else pad
                        assert out == expected_size(n, k, s, mode, d)

def test_init_shapes():
    for case in CONV2D_CASES:
        (h, w), c, kernel, stride, padding, dilation = case
        out_shape, params = build(conv2d(4, kernel, stride, padding, dilation), (h, w, c))
        pads = explicit_pads(padding, (h, w), pair(kernel), pair(stride), pair(dilation))
        assert out_shape == (*(expected_size(n, k, s, p, d) for n, k, s, p, d in
                               zip((h, w), pair(kernel), pair(stride), pads, pair(dilation))), 4)
        assert params["W"].shape == (*pair(kernel), c, 4) and params["b"].shape == (4,)
    out_shape, params = build(conv1d(5, 3, stride=2), (9, 2))
    assert out_shape == (5, 5) and params["W"].shape == (3, 2, 5)
    _, params = build(conv2d(3, 2, use_bias=False), (4, 4, 2))
    assert set(params) == {"W"}


def test_he_normal_kernel_statistics():
    """W ~ N(0, 2 / fan_in) with fan_in = kh * kw * C (He et al. 2015)."""
    _, params = conv2d(64, 5).init(jax.random.key(1), (8, 8, 16))
    kernel = np.asarray(params["W"])
    expected_std = math.sqrt(2.0 / (5 * 5 * 16))
    assert kernel.shape == (5, 5, 16, 64) and kernel.dtype == np.float64   # x64 in the tests
    np.testing.assert_array_equal(params["b"], np.zeros(64))
    assert abs(kernel.std() / expected_std - 1) < 0.03           # 25600 draws: sd ~ 0.0044
    assert abs(kernel.mean()) < 4 * expected_std / math.sqrt(kernel.size)
    _, params = conv2d(3, 3, kernel_init=initializers.zeros).init(jax.random.key(1), (4, 4, 2))
    np.testing.assert_array_equal(params["W"], np.zeros((3, 3, 2, 3)))


def test_float32_in_float32_out():
    with jax.enable_x64(False):
        layer = conv2d(2, 3, stride=2, kernel_init=initializers.zeros)
        _, params = layer.init(jax.random.key(0), (5, 5, 3))
        params = {"W": params["W"] + 0.5, "b": params["b"]}
        x = jnp.ones((1, 5, 5, 3), jnp.float32)
        y = layer.apply(params, x)
        dp, dx = layer.backward(params, x, jnp.ones_like(y))
        assert y.dtype == dx.dtype == dp["W"].dtype == jnp.float32
        np.testing.assert_allclose(y[0, 1, 1], [13.5, 13.5])     # interior: 3 * 3 * 3 * 0.5


# ------------------------------------------------------------------------------ errors

def test_shape_errors_name_the_layout():
    key = jax.random.key(0)
    layer = conv2d(2, 3, kernel_init=initializers.zeros)
    with pytest.raises(ValueError, match=r"conv2d expects HWC in_shape .*\(H, W, C\)"):
        layer.init(key, (8, 8))
    _, params = layer.init(key, (8, 8, 3))
    with pytest.raises(ValueError, match=r"conv2d expects NHWC input \(N, H, W, C\) with C=3, "
                                         r"got shape \(2, 8, 8, 4\)"):
        layer.apply(params, jnp.zeros((2, 8, 8, 4)))
    with pytest.raises(ValueError, match=r"NHWC input \(N, H, W, C\) with C=3"):
        layer.apply(params, jnp.zeros((8, 8, 3)))
    with pytest.raises(ValueError, match=r"NHWC input .*"):
        layer.backward(params, jnp.zeros((8, 8, 3)), jnp.zeros((8, 8, 2)))
    with pytest.raises(ValueError, match=r"conv1d expects NLC input \(N, L, C\) with C=3"):
        conv1d(2, 3).apply({"W": jnp.zeros((3, 3, 2)), "b": jnp.zeros(2)}, jnp.zeros((2, 8, 8, 3)))
    valid = conv2d(2, 3, padding="VALID", dilation=2)
    with pytest.raises(ValueError, match="effective\\) size 5 on spatial axis 1 is larger"):
        valid.init(key, (8, 4, 3))
    with pytest.raises(ValueError, match="larger than the padded input"):
        valid.apply({"W": jnp.zeros((3, 3, 3, 2)), "b": jnp.zeros(2)}, jnp.zeros((1, 4, 8, 3)))


@pytest.mark.parametrize("kwargs, message", [
    ({"kernel_size": 0}, "kernel_size must be a positive int"),
    ({"kernel_size": (3, 3, 3)}, "sequence of 2 positive ints"),
    ({"kernel_size": 3, "stride": (1, 0)}, "stride must be"),
    ({"kernel_size": 3, "dilation": 1.5}, "dilation must be"),
    ({"kernel_size": 3, "padding": "FULL"}, "padding must be 'SAME', 'VALID'"),
    ({"kernel_size": 3, "padding": ((1, 1),)}, "2 \\(lo, hi\\) pairs"),
    ({"kernel_size": 3, "padding": ((1, -1), (0, 0))}, "non-negative"),
    ({"kernel_size": 3, "features": 0}, "features must be a positive int"),
])
def test_bad_arguments(kwargs, message):
    kwargs = {"features": 2, **kwargs}
    with pytest.raises(ValueError, match=message):
        conv2d(**kwargs)


def test_initializers_by_name_as_in_dense():
    from jaxnn import initializers, layers

    named = layers.conv2d(4, 3, kernel_init="glorot_uniform", bias_init="ones").init(jax.random.key(0), (5, 5, 2))[1]
    called = layers.conv2d(4, 3, kernel_init=initializers.glorot_uniform,
                           bias_init=initializers.ones).init(jax.random.key(0), (5, 5, 2))[1]
    np.testing.assert_array_equal(np.asarray(named["W"]), np.asarray(called["W"]))
    np.testing.assert_array_equal(np.asarray(named["b"]), np.ones(4))


def test_mixed_precision_input_and_kernel_promote_as_dense_does():
    """float32 data into a float64 kernel (x64 on): apply promotes like a matmul, and the
    hand backward returns each gradient in its own argument's dtype, as jax.vjp does."""
    layer = conv2d(3, 2)
    params = layer.init(jax.random.key(0), (5, 5, 2))[1]
    x = jnp.asarray(np.random.default_rng(0).standard_normal((2, 5, 5, 2)), jnp.float32)
    y = layer.apply(params, x)
    assert y.dtype == jnp.result_type(x, params["W"])
    _, vjp = jax.vjp(layer.apply, params, x)
    dy = jnp.ones_like(y)
    expected_dp, expected_dx = vjp(dy)
    dp, dx = layer.backward(params, x, dy)
    assert dx.dtype == x.dtype and dp["W"].dtype == params["W"].dtype
    np.testing.assert_allclose(dx, expected_dx, rtol=1e-6)
    np.testing.assert_allclose(dp["W"], expected_dp["W"], rtol=1e-6)
