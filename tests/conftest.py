"""Test-suite configuration.

The whole suite runs with 64-bit floats enabled: gradient and optimizer agreement is
checked in float64 to ~1e-8 relative.  The library never hard-codes float32, so outside
the tests (x64 off, JAX's default) everything is float32; tests that check that default
wrap themselves in ``with jax.enable_x64(False):``.
"""
import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402
import pytest  # noqa: E402

jax.config.update("jax_enable_x64", True)


@pytest.fixture
def key():
    return jax.random.key(0)
