"""max_pool / avg_pool / global_avg_pool: backward against jax.vjp (ties included),
forward against PyTorch, shapes and errors; a conv/pool stack through `serial`."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

from checks import assert_backward_matches_vjp, assert_backward_matches_vjp_jit, build, gaussian
from jaxnn.layers.base import serial
from jaxnn.layers.conv import conv2d
from jaxnn.layers.pool import avg_pool, global_avg_pool, max_pool


def integers(shape, seed, high=3):
    """Small integer-valued floats: many ties inside each window."""
    return jnp.asarray(np.random.default_rng(seed).integers(0, high, shape).astype(np.float64))


# (H, W), window, stride, padding: non-overlapping (stride = window), overlapping
# (stride < window), gaps (stride > window), SAME / VALID / explicit, leftover rows.
POOL_CASES = [
    ((4, 4), 2, None, "VALID"),
    ((5, 7), 3, 1, "SAME"),
    ((7, 5), (3, 2), (2, 1), "SAME"),
    ((6, 6), 2, 1, "VALID"),
    ((7, 5), 3, 2, ((1, 2), (0, 1))),
    ((8, 8), 2, 3, "VALID"),
    ((7, 5), 3, None, "SAME"),
    ((5, 5), (1, 3), (2, 2), "VALID"),
]


def pool_case(make, case, data):
    (h, w), window, stride, padding = case
    layer = make(window, stride, padding)
    out_shape, params = layer.init(None, (h, w, 2))
    assert params == ()
    x = data((2, h, w, 2), 11)
    assert layer.apply(params, x).shape == (2, *out_shape)
    return layer, params, x


def avg_pool_excluding_pad(window, stride, padding):
    return avg_pool(window, stride, padding, count_include_pad=False)


# ------------------------------------------------------------------------ backward == VJP

def test_max_pool_backward_matches_vjp_with_and_without_ties():
    cases = [pool_case(max_pool, case, data) for case in POOL_CASES
             for data in (gaussian, integers)]
    cases.append(pool_case(max_pool, ((5, 5), 3, 2, "SAME"), lambda shape, _: jnp.ones(shape)))
    for (_, _, x), (dp, dx) in zip(cases, assert_backward_matches_vjp_jit(*cases)):
        assert dp == () and dx.shape == x.shape


def reduce_window_max_pool(x, window, stride, padding):
    """The plain max pool `max_pool`'s forward must equal: ``lax.reduce_window`` of ``max``."""
    window = (window, window) if isinstance(window, int) else tuple(window)
    stride = window if stride is None else (stride, stride) if isinstance(stride, int) else tuple(stride)
    pads = (lax.padtype_to_pads(x.shape[1:-1], window, stride, padding) if isinstance(padding, str)
            else padding)
    return lax.reduce_window(x, -jnp.inf, lax.max, (1, *window, 1), (1, *stride, 1),
                             ((0, 0), *pads, (0, 0)))


def test_max_pool_forward_and_its_derivatives_equal_reduce_window():
    """`max_pool`'s forward (value by ``reduce_window``, derivative by JAX from
    `first_maximum` of the window's taps) against plain ``lax.reduce_window(max)``: the same
    values, ``jax.vjp`` routes ``dy`` as JAX's own ``select_and_scatter_add`` does,
    ties included (integer-valued inputs, all-equal windows); ``jax.jvp`` as JAX's own
    without ties, and with ties as the transpose of the VJP (JAX's own ``reduce_window`` JVP,
    ``select_and_gather_add``, does not always pick the first tie, so it is no transpose of
    its own VJP there)."""
    for case in POOL_CASES:
        (h, w), window, stride, padding = case
        layer = max_pool(window, stride, padding)

        def plain(x_, window=window, stride=stride, padding=padding):
            return reduce_window_max_pool(x_, window, stride, padding)

        @jax.jit  # one program per case (the three inputs share its shapes)
        def both(x, dy, dx, layer=layer, plain=plain):
            y, vjp = jax.vjp(lambda x_: layer.apply((), x_), x)
            y_plain, vjp_plain = jax.vjp(plain, x)
            jvp = jax.jvp(lambda x_: layer.apply((), x_), (x,), (dx,))[1]
            return y, y_plain, vjp(dy)[0], vjp_plain(dy)[0], jvp, jax.jvp(plain, (x,), (dx,))[1]

        for data in (gaussian, integers, lambda shape, _: jnp.ones(shape)):
            x = data((2, h, w, 2), 13)
            dy = gaussian(jax.eval_shape(plain, x).shape, 14)
            dx = gaussian(x.shape, 15)
            y, y_plain, dx_back, dx_back_plain, jvp, jvp_plain = both(x, dy, dx)
            np.testing.assert_array_equal(y, y_plain, err_msg=str(case))
            np.testing.assert_allclose(dx_back, dx_back_plain, rtol=1e-12, atol=1e-12, err_msg=str(case))
            # the JVP is the VJP's transpose: <dy, J dx> = <J^T dy, dx>, ties included
            np.testing.assert_allclose(jnp.vdot(dy, jvp), jnp.vdot(dx_back, dx), rtol=1e-12)
            if data is gaussian:   # JAX's own reduce_window JVP breaks ties its own way
                np.testing.assert_array_equal(jvp, jvp_plain, err_msg=str(case))


def test_max_pool_reverse_mode_runs_no_select_and_scatter():
    """``jax.grad`` of `max_pool` derives selects and pads, not ``select_and_scatter_add``
    (several times slower inside ``lax.scan`` on XLA:CPU)."""
    layer = max_pool(3, 2, "SAME")
    jaxpr = str(jax.make_jaxpr(jax.grad(lambda x: jnp.sum(layer.apply((), x) ** 2)))(gaussian((2, 7, 6, 3), 1)))
    assert "select_and_scatter" not in jaxpr and "pad[" in jaxpr


def test_max_pool_propagates_nan_as_reduce_window_does():
    x = jnp.array([[1.0, jnp.nan], [0.0, 2.0]]).reshape(1, 2, 2, 1)
    assert bool(jnp.isnan(max_pool(2).apply((), x)).all())
    assert bool(jnp.isnan(reduce_window_max_pool(x, 2, None, "VALID")).all())


def test_avg_pool_backward_matches_vjp():
    cases = [pool_case(make, case, gaussian) for case in POOL_CASES
             for make in (avg_pool, avg_pool_excluding_pad)]
    assert_backward_matches_vjp_jit(*cases)


def test_pool_backward_eager_through_shared_helper():
    layer, params, x = pool_case(max_pool, ((3, 4), 2, 1, "SAME"), integers)
    assert_backward_matches_vjp(layer, params, x)


def test_max_pool_ties_go_to_the_first_maximum_by_hand():
    """2x2 windows, stride 1: each window sends dy to its first (row-major) maximum."""
    x = jnp.array([[0.0, 1.0, 1.0],
                   [1.0, 1.0, 0.0],
                   [0.0, 0.0, 0.0]]).reshape(1, 3, 3, 1)
    layer = max_pool(2, 1)
    _, dx = layer.backward((), x, jnp.ones((1, 2, 2, 1)))
    # windows (0,0), (0,1) -> x[0,1]; (1,0) -> x[1,0]; (1,1) -> x[1,1]
    np.testing.assert_array_equal(dx[0, :, :, 0], [[0, 2, 0], [1, 1, 0], [0, 0, 0]])
    _, dx = layer.backward((), jnp.ones((1, 3, 3, 1)), jnp.ones((1, 2, 2, 1)))
    np.testing.assert_array_equal(dx[0, :, :, 0], [[1, 1, 0], [1, 1, 0], [0, 0, 0]])


def test_avg_pool_backward_spreads_evenly_by_hand():
    """3x3 input, 2x2 windows, stride 1: dx counts how many windows cover each cell / 4."""
    _, dx = avg_pool(2, 1).backward((), jnp.zeros((1, 3, 3, 1)), jnp.ones((1, 2, 2, 1)))
    np.testing.assert_array_equal(dx[0, :, :, 0], np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]]) / 4)


def test_global_avg_pool():
    layer = global_avg_pool()
    out_shape, params = layer.init(None, (5, 7, 3))
    assert out_shape == (3,) and params == ()
    x = gaussian((2, 5, 7, 3), 4)
    np.testing.assert_allclose(layer.apply(params, x), np.asarray(x).mean(axis=(1, 2)), rtol=1e-12)
    _, dx = assert_backward_matches_vjp(layer, params, x)
    np.testing.assert_allclose(dx, np.broadcast_to(dx[:, :1, :1, :], x.shape), rtol=0)


def test_conv_pool_stack_through_serial():
    model = serial(conv2d(3, 3), max_pool(2), conv2d(2, (3, 2), padding="VALID"),
                   avg_pool(2, 1, "SAME"), global_avg_pool())
    out_shape, params = build(model, (8, 7, 2))
    assert out_shape == (2,)
    x = gaussian((2, 8, 7, 2), 5)
    assert model.apply(params, x).shape == (2, 2)
    partial = serial(*model.children[:4])
    assert build(partial, (8, 7, 2))[0] == (2, 2, 2)
    assert_backward_matches_vjp_jit((model, params, x), (partial, params[:4], x))


# ------------------------------------------------------------------- forward vs PyTorch

def torch_pool(kind, x, window, stride, padding, count_include_pad=True):
    """PyTorch pooling on NCHW, with the (lo, hi) padding applied by ``F.pad`` beforehand."""
    torch = pytest.importorskip("torch")
    functional = torch.nn.functional
    window = (window, window) if isinstance(window, int) else window
    stride = window if stride is None else (stride, stride) if isinstance(stride, int) else stride
    if isinstance(padding, str):
        pads = lax.padtype_to_pads(x.shape[1:3], window, stride, padding)
    else:
        pads = padding
    x_t = torch.from_numpy(np.array(x).transpose(0, 3, 1, 2))
    torch_pad = [*pads[1], *pads[0]]
    if kind == "max":
        y = functional.max_pool2d(functional.pad(x_t, torch_pad, value=-np.inf), window, stride)
    elif count_include_pad:
        y = functional.avg_pool2d(functional.pad(x_t, torch_pad), window, stride)
    else:  # symmetric padding only: let torch pad and exclude the padding from the count
        assert all(lo == hi for lo, hi in pads)
        y = functional.avg_pool2d(x_t, window, stride, padding=[lo for lo, _ in pads],
                                  count_include_pad=False)
    return y.numpy().transpose(0, 2, 3, 1)


@pytest.mark.parametrize("case", POOL_CASES)
def test_pool_forward_matches_torch(case):
    pytest.importorskip("torch")
    (h, w), window, stride, padding = case
    x = gaussian((2, h, w, 3), 6)
    for kind, make in (("max", max_pool), ("avg", avg_pool)):
        y = make(window, stride, padding).apply((), x)
        np.testing.assert_allclose(y, torch_pool(kind, x, window, stride, padding),
                                   rtol=1e-12, atol=1e-14, err_msg=kind)


def test_avg_pool_count_exclude_pad_matches_torch():
    pytest.importorskip("torch")
    x = gaussian((2, 7, 6, 3), 7)
    for window, stride in [(3, 2), ((3, 2), 1)]:
        padding = ((1, 1), (1, 1)) if window == 3 else ((1, 1), (0, 0))
        y = avg_pool(window, stride, padding, count_include_pad=False).apply((), x)
        expected = torch_pool("avg", x, window, stride, padding, count_include_pad=False)
        np.testing.assert_allclose(y, expected, rtol=1e-12, atol=1e-14)


def test_avg_pool_same_padding_counts():
    """Constant input: excluding the padding keeps the constant, including it shrinks borders."""
    x = jnp.full((1, 5, 5, 1), 2.0)
    excluded = avg_pool(3, 2, "SAME", count_include_pad=False).apply((), x)
    np.testing.assert_allclose(excluded, np.full((1, 3, 3, 1), 2.0), rtol=1e-15)
    included = avg_pool(3, 2, "SAME").apply((), x)   # pads (1, 1): corners see 4 of 9 cells
    np.testing.assert_allclose(included[0, :, :, 0],
                               2.0 * np.array([[4, 6, 4], [6, 9, 6], [4, 6, 4]]) / 9, rtol=1e-15)


# ------------------------------------------------------------------------ shapes, errors

def test_init_shapes():
    assert max_pool(2).init(None, (8, 7, 3))[0] == (4, 3, 3)
    assert max_pool(3, 2, "SAME").init(None, (8, 7, 3))[0] == (4, 4, 3)
    assert avg_pool((3, 2), (1, 2)).init(None, (8, 7, 3))[0] == (6, 3, 3)
    assert avg_pool(2, 3, ((1, 0), (0, 2))).init(None, (8, 7, 3))[0] == (3, 3, 3)


def test_shape_errors_name_the_layout():
    with pytest.raises(ValueError, match=r"max_pool expects HWC in_shape .*\(H, W, C\)"):
        max_pool(2).init(None, (8, 8))
    with pytest.raises(ValueError,
                       match=r"avg_pool expects NHWC input \(N, H, W, C\), got shape \(8, 8\)"):
        avg_pool(2).apply((), jnp.zeros((8, 8)))
    with pytest.raises(ValueError, match=r"max_pool: window of \(effective\) size 5 on spatial"):
        max_pool(5).init(None, (4, 8, 1))
    with pytest.raises(ValueError, match="larger than the padded input"):
        avg_pool((2, 9)).apply((), jnp.zeros((1, 4, 8, 1)))
    with pytest.raises(ValueError, match=r"global_avg_pool expects NHWC input"):
        global_avg_pool().apply((), jnp.zeros((2, 3)))
    with pytest.raises(ValueError, match="max_pool window must be a positive int"):
        max_pool(0)
    with pytest.raises(ValueError, match="avg_pool stride must be"):
        avg_pool(2, (1, 2, 3))
    with pytest.raises(ValueError, match="padding must be 'SAME', 'VALID'"):
        max_pool(2, padding="same-ish")
