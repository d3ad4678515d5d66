"""The quality metrics against values known in closed form. Numpy only, milliseconds each."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gantool.errors import GantoolError
from gantool.judge.metrics import (
    class_balance,
    feature_stats,
    fid,
    frechet_distance,
    kl_to_uniform,
    knn_radii,
    mnist_score,
    prdc,
    trace_sqrt_product,
)


def random_spd(rng: np.random.Generator, dim: int) -> np.ndarray:
    factor = rng.standard_normal((dim, dim))
    return factor @ factor.T + 0.1 * np.eye(dim)


def test_fid_of_a_set_with_itself_is_zero():
    features = np.random.default_rng(0).standard_normal((2000, 32)).astype(np.float32)
    assert fid(features, *feature_stats(features)) == pytest.approx(0.0, abs=1e-6)


def test_fid_of_diagonal_gaussians_equals_closed_form():
    # Commuting covariances: FID = |mu1 - mu2|^2 + sum (sqrt(a_i) - sqrt(b_i))^2.
    mean_1, mean_2 = np.array([0.0, 1.0, 2.0]), np.array([1.0, -1.0, 2.0])
    var_1, var_2 = np.array([1.0, 4.0, 9.0]), np.array([4.0, 1.0, 0.25])
    expected = np.sum((mean_1 - mean_2) ** 2) + np.sum((np.sqrt(var_1) - np.sqrt(var_2)) ** 2)
    assert frechet_distance(mean_1, np.diag(var_1), mean_2, np.diag(var_2)) == pytest.approx(expected, rel=1e-12)


def test_fid_of_non_commuting_2d_gaussians_equals_closed_form():
    # For 2x2 matrices with eigenvalues l1, l2 of A B: Tr sqrt(A B) = sqrt(tr(A B) + 2 sqrt(det A det B)).
    cov_1 = np.array([[2.0, 0.5], [0.5, 1.0]])
    cov_2 = np.array([[1.0, -0.7], [-0.7, 3.0]])
    assert not np.allclose(cov_1 @ cov_2, cov_2 @ cov_1)
    mean_1, mean_2 = np.array([0.3, -0.2]), np.array([-1.0, 0.5])
    tr_sqrt = math.sqrt(np.trace(cov_1 @ cov_2) + 2 * math.sqrt(np.linalg.det(cov_1) * np.linalg.det(cov_2)))
    expected = np.sum((mean_1 - mean_2) ** 2) + np.trace(cov_1) + np.trace(cov_2) - 2 * tr_sqrt
    assert trace_sqrt_product(cov_1, cov_2) == pytest.approx(tr_sqrt, rel=1e-12)
    assert frechet_distance(mean_1, cov_1, mean_2, cov_2) == pytest.approx(expected, rel=1e-10)


def test_fid_of_samples_approaches_the_closed_form():
    rng = np.random.default_rng(1)
    cov_1, cov_2 = random_spd(rng, 4), random_spd(rng, 4)
    mean_1, mean_2 = rng.standard_normal(4), rng.standard_normal(4)
    samples = rng.multivariate_normal(mean_1, cov_1, size=200_000)
    expected = frechet_distance(mean_1, cov_1, mean_2, cov_2)
    assert fid(samples, mean_2, cov_2) == pytest.approx(expected, rel=0.03)


@settings(max_examples=25, deadline=None)
@given(st.integers(min_value=1, max_value=8), st.integers(min_value=0, max_value=10_000))
def test_fid_is_symmetric_non_negative_and_rotation_invariant(dim, seed):
    rng = np.random.default_rng(seed)
    cov_1, cov_2 = random_spd(rng, dim), random_spd(rng, dim)
    mean_1, mean_2 = rng.standard_normal(dim), rng.standard_normal(dim)
    rotation, _ = np.linalg.qr(rng.standard_normal((dim, dim)))
    forward = frechet_distance(mean_1, cov_1, mean_2, cov_2)
    assert forward >= 0
    assert frechet_distance(mean_2, cov_2, mean_1, cov_1) == pytest.approx(forward, rel=1e-6, abs=1e-9)
    rotated = frechet_distance(rotation @ mean_1, rotation @ cov_1 @ rotation.T, rotation @ mean_2, rotation @ cov_2 @ rotation.T)
    assert rotated == pytest.approx(forward, rel=1e-6, abs=1e-9)


def test_fid_rejects_mismatched_statistics():
    with pytest.raises(GantoolError, match="disagree"):
        frechet_distance(np.zeros(2), np.eye(2), np.zeros(3), np.eye(3))
    with pytest.raises(GantoolError, match="at least 2"):
        feature_stats(np.zeros((1, 4)))


def test_mnist_score_of_uniform_one_hot_is_10_and_of_one_class_is_1():
    uniform = np.tile(np.eye(10), (100, 1))
    mean, sd = mnist_score(uniform)
    assert mean == pytest.approx(10.0) and sd == pytest.approx(0.0, abs=1e-12)
    single = np.zeros((1000, 10))
    single[:, 3] = 1.0
    assert mnist_score(single) == pytest.approx((1.0, 0.0))
    assert mnist_score(np.full((1000, 10), 0.1))[0] == pytest.approx(1.0)
    with pytest.raises(GantoolError, match="at least 10"):
        mnist_score(uniform[:5])


def test_class_balance_flags_a_single_class():
    single = np.zeros((50, 10))
    single[:, 7] = 1.0
    balance = class_balance(single)
    assert balance.counts[7] == 50 and sum(balance.counts) == 50
    assert balance.kl_to_uniform == pytest.approx(math.log(10)) and balance.min_share == 0.0
    even = class_balance(np.tile(np.eye(10), (3, 1)))
    assert even.kl_to_uniform == pytest.approx(0.0) and even.min_share == pytest.approx(0.1)
    assert kl_to_uniform(np.array([0.5, 0.5, 0.0, 0.0])) == pytest.approx(math.log(2))


def test_knn_radii_match_brute_force():
    points = np.random.default_rng(2).standard_normal((300, 5)).astype(np.float32)
    squared = ((points[:, None, :] - points[None, :, :]) ** 2).sum(-1)
    expected = np.sort(squared, axis=1)
    radii = knn_radii(points, (3, 5), chunk=37)
    np.testing.assert_allclose(radii[3], expected[:, 3], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(radii[5], expected[:, 5], rtol=1e-4, atol=1e-4)


def test_prdc_of_identical_sets_is_perfect():
    features = np.random.default_rng(3).standard_normal((1500, 16))
    result = prdc(features, features.copy())
    assert (result.precision, result.recall, result.coverage) == (1.0, 1.0, 1.0)
    # Each real ball holds itself and k-1 others strictly inside; the k-th sits on the boundary,
    # where float32 round-off decides a few ties either way.
    assert result.density == pytest.approx(1.0, abs=0.02)


def test_prdc_of_far_apart_sets_is_zero_and_chunking_changes_nothing():
    rng = np.random.default_rng(4)
    real = rng.standard_normal((400, 8))
    far = prdc(real, rng.standard_normal((300, 8)) + 100.0)
    assert (far.precision, far.recall, far.density, far.coverage) == (0.0, 0.0, 0.0, 0.0)
    near = rng.standard_normal((350, 8)) * 1.3 + 0.2
    assert prdc(real, near, chunk=29) == prdc(real, near, chunk=4096)
    partial = prdc(real, near)
    assert 0.0 < partial.precision < 1.0 and 0.0 < partial.coverage <= 1.0


def test_prdc_needs_more_points_than_k():
    with pytest.raises(GantoolError, match="k=5"):
        prdc(np.zeros((5, 2)), np.zeros((5, 2)))
