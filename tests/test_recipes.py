"""Training-recipe options: the learning-rate schedule and the auxiliary class task."""

from __future__ import annotations

import json

import pytest

from gantool.errors import GantoolError
from gantool.train.config import TrainConfig


def test_lr_decay_schedule_is_linear_to_zero():
    config = TrainConfig(epochs=10, lr_decay_start=6)
    scales = [config.lr_scale(epoch) for epoch in range(10)]
    assert scales[:6] == [1.0] * 6
    assert scales[6:] == pytest.approx([4 / 5, 3 / 5, 2 / 5, 1 / 5])
    assert TrainConfig(epochs=10).lr_scale(9) == 1.0
    with pytest.raises(GantoolError, match="--lr-decay-start"):
        TrainConfig(epochs=10, lr_decay_start=10)


def test_lr_decay_can_only_be_added_for_epochs_not_yet_trained(tmp_path, fixture_npz):
    from gantool.train.trainer import train

    base = dict(batch_size=32, steps_per_epoch=1, seed=2)
    quiet = dict(data=str(fixture_npz), log=lambda *_: None)
    train(TrainConfig(epochs=2, **base), tmp_path, **quiet)
    with pytest.raises(GantoolError, match="--lr-decay-start can only change to an epoch >= 2"):
        train(TrainConfig(epochs=4, lr_decay_start=1, **base), tmp_path, resume=True, **quiet)
    # Extending the run with a decay over the new epochs only is allowed.
    train(TrainConfig(epochs=3, lr_decay_start=2, **base), tmp_path, resume=True, **quiet)
    assert len((tmp_path / "metrics.csv").read_text().splitlines()) == 1 + 3


def test_aux_task_trains_a_class_head_and_leaves_the_generator_alone(tmp_path, fixture_npz):
    from gantool.train.trainer import build_gan, train

    config = TrainConfig(epochs=1, batch_size=32, steps_per_epoch=2, seed=5, aux_weight=1.0)
    train(config, tmp_path, data=str(fixture_npz), log=lambda *_: None)
    gan = build_gan(config, on_gpu=False)
    assert [o.shape[-1] for o in gan.discriminator.outputs] == [1, 10]
    plain = build_gan(TrainConfig(epochs=1, batch_size=32, seed=5), on_gpu=False)
    assert [w.shape for w in gan.generator.weights] == [w.shape for w in plain.generator.weights]
    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved["training"]["aux_weight"] == 1.0 and saved["contract"]["num_classes"] == 0
    assert (tmp_path / "generator.keras").is_file()


@pytest.mark.parametrize("arch", ["cdcgan", "quadratic"])
def test_aux_task_needs_an_unconditional_mnist_arch(arch):
    with pytest.raises(GantoolError, match="--aux-weight needs an unconditional MNIST arch"):
        TrainConfig.for_arch(arch, aux_weight=1.0)
