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
    with pytest.raises(GantoolError, match="`lr_decay_start`"):
        TrainConfig(epochs=10, lr_decay_start=10)


@pytest.mark.slow
def test_lr_decay_can_only_be_added_for_epochs_not_yet_trained(tmp_path, fixture_npz):
    from gantool.train.trainer import train

    base = dict(batch_size=32, steps_per_epoch=1, seed=2)
    quiet = dict(data=str(fixture_npz), log=lambda *_: None)
    train(TrainConfig(epochs=2, **base), tmp_path, **quiet)
    with pytest.raises(GantoolError, match="`lr_decay_start` can only change to an epoch >= 2"):
        train(TrainConfig(epochs=4, lr_decay_start=1, **base), tmp_path, resume=True, **quiet)
    # Extending the run with a decay over the new epochs only is allowed.
    train(TrainConfig(epochs=3, lr_decay_start=2, **base), tmp_path, resume=True, **quiet)
    assert len((tmp_path / "metrics.csv").read_text().splitlines()) == 1 + 3
    # A warm restart after that decay: the rate jumps back up and decays again over epochs 4-5.
    restart = TrainConfig(epochs=5, lr_decay_start=3, **base)
    assert [restart.lr_scale(epoch) for epoch in (2, 3, 4)] == pytest.approx([1.0, 2 / 3, 1 / 3])
    train(restart, tmp_path, resume=True, **quiet)
    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved["contract"]["training"]["resumes"][-1] == {
        "after_epoch": 3, "changed": {"epochs": [3, 5], "lr_decay_start": [2, 3]}}


@pytest.mark.slow
def test_aux_task_trains_a_class_head_and_leaves_the_generator_alone(tmp_path, fixture_npz):
    from gantool.train.build import build_gan
    from gantool.train.trainer import train

    config = TrainConfig(epochs=1, batch_size=32, steps_per_epoch=2, seed=5, aux_weight=1.0)
    train(config, tmp_path, data=str(fixture_npz), log=lambda *_: None)
    gan = build_gan(config)
    assert [o.shape[-1] for o in gan.discriminator.outputs] == [1, 10]
    plain = build_gan(TrainConfig(epochs=1, batch_size=32, seed=5))
    assert [w.shape for w in gan.generator.weights] == [w.shape for w in plain.generator.weights]
    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved["training"]["aux_weight"] == 1.0 and saved["contract"]["num_classes"] == 0
    assert (tmp_path / "generator.keras").is_file()


@pytest.mark.parametrize("arch", ["cdcgan", "quadratic"])
def test_aux_task_needs_an_unconditional_mnist_arch(arch):
    from gantool.train.recipes import recipe

    with pytest.raises(GantoolError, match="`aux_weight` needs an unconditional MNIST arch"):
        recipe(arch).configs({"aux_weight": 1.0})


@pytest.mark.slow
def test_a_later_phase_may_change_the_aux_weight_and_the_change_is_recorded(tmp_path, fixture_npz):
    """A two-phase recipe: stop part-way, resume with a stronger class task and critic; the changes are kept."""
    from gantool.export.source import load_source
    from gantool.train.trainer import train

    base = dict(batch_size=32, steps_per_epoch=1, seed=3, lr_decay_start=1)
    quiet = dict(data=str(fixture_npz), log=lambda *_: None)
    train(TrainConfig(epochs=3, aux_weight=1.0, **base), tmp_path, stop_after=2, **quiet)
    assert len((tmp_path / "metrics.csv").read_text().splitlines()) == 1 + 2
    with pytest.raises(GantoolError, match="`stop_after` 2 has nothing to do"):
        train(TrainConfig(epochs=3, aux_weight=1.0, **base), tmp_path, resume=True, stop_after=2, **quiet)
    with pytest.raises(GantoolError, match="class head"):
        train(TrainConfig(epochs=4, aux_weight=0.0, **base), tmp_path, resume=True, **quiet)
    train(TrainConfig(epochs=4, aux_weight=3.0, d_steps=2, **base), tmp_path, resume=True, **quiet)
    saved = json.loads((tmp_path / "config.json").read_text())
    expected = [{"after_epoch": 2, "changed": {"epochs": [3, 4], "aux_weight": [1.0, 3.0], "d_steps": [1, 2]}}]
    assert saved["contract"]["training"]["resumes"] == expected
    assert saved["training"]["aux_weight"] == 3.0
    assert len((tmp_path / "metrics.csv").read_text().splitlines()) == 1 + 4
    # The history travels with the model into exports.
    _, contract, _ = load_source(tmp_path)
    assert contract.training["resumes"] == expected


def test_stop_after_must_be_inside_the_schedule(tmp_path):
    from gantool.train.trainer import train

    with pytest.raises(GantoolError, match="`stop_after` must be an epoch in \\[1, `epochs`=3\\]"):
        train(TrainConfig(epochs=3), tmp_path, stop_after=4, log=lambda *_: None)


def test_fake_class_term_needs_the_class_task():
    with pytest.raises(GantoolError, match="`aux_fake_weight` needs `aux_weight` > 0"):
        TrainConfig(aux_fake_weight=1.0)


@pytest.mark.slow
def test_fake_class_term_enters_the_discriminator_loss(tmp_path, fixture_npz):
    """Same seed and data, with and without CatGAN's discriminator-side term: only the D loss differs at step 1."""
    from gantool.train.trainer import train

    rows = {}
    for weight in (0.0, 2.0):
        config = TrainConfig(epochs=1, batch_size=32, steps_per_epoch=1, seed=4, aux_weight=1.0, aux_fake_weight=weight)
        folder = tmp_path / str(weight)
        train(config, folder, data=str(fixture_npz), log=lambda *_: None)
        header, row = (folder / "metrics.csv").read_text().splitlines()[:2]
        rows[weight] = dict(zip(header.split(","), row.split(","), strict=False))
        assert json.loads((folder / "config.json").read_text())["training"]["aux_fake_weight"] == weight
    # The term is -2 x the class head's entropy on fakes (at most ln 10 = 2.30 nats), so it lowers the loss.
    gap = float(rows[0.0]["d_loss"]) - float(rows[2.0]["d_loss"])
    assert 0.0 < gap <= 2 * 2.31


@pytest.mark.slow
def test_a_later_phase_may_lengthen_the_weight_average(tmp_path, fixture_npz):
    """--ema may change at --resume between non-zero decays (recorded); turning it off is refused."""
    from gantool.train.trainer import train

    base = dict(batch_size=32, steps_per_epoch=1, seed=6)
    quiet = dict(data=str(fixture_npz), log=lambda *_: None)
    train(TrainConfig(epochs=1, ema_decay=0.99, **base), tmp_path, **quiet)
    with pytest.raises(GantoolError, match="weight average"):
        train(TrainConfig(epochs=2, ema_decay=0.0, **base), tmp_path, resume=True, **quiet)
    train(TrainConfig(epochs=2, ema_decay=0.999, **base), tmp_path, resume=True, **quiet)
    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved["contract"]["training"]["resumes"] == [
        {"after_epoch": 1, "changed": {"epochs": [1, 2], "ema_decay": [0.99, 0.999]}}]
    assert saved["training"]["ema_decay"] == 0.999


def test_running_class_balance_gives_no_reward_for_blends():
    """With a batch that lacks class 1, CatGAN's batch balance rates 0/1 blends as well as clear
    0s; the running balance prefers clear digits and moves its shares towards the batch."""
    import numpy as np

    from gantool.train.build import build_gan

    clear = np.full((8, 10), -20.0, dtype=np.float32)
    clear[:, 0] = 20.0  # every sample a confident 0
    blend = np.full((8, 10), -20.0, dtype=np.float32)
    blend[:, :2] = 20.0  # every sample half 0, half 1
    rewards = {}
    for balance in ("batch", "running"):
        gan = build_gan(TrainConfig(epochs=1, aux_weight=1.0, aux_balance=balance))
        rewards[balance] = [float(gan._class_reward(logits)) for logits in (clear, blend)]
    assert rewards["batch"][0] == pytest.approx(rewards["batch"][1], abs=1e-4)  # the blend is not penalized
    assert rewards["running"][1] > rewards["running"][0] + 0.5  # the blend costs ~ln 2
    shares = gan.class_share.numpy()
    assert shares[0] > shares[1] > shares[2] == pytest.approx(0.1 * 0.99 * 0.99, rel=1e-5)
    with pytest.raises(GantoolError, match="`aux_balance` needs `aux_weight`"):
        TrainConfig(epochs=1, aux_balance="running")
    with pytest.raises(GantoolError, match="`aux_balance` must be one of"):
        TrainConfig(epochs=1, aux_weight=1.0, aux_balance="epoch")


def test_top_k_trains_the_generator_on_the_best_rated_fakes():
    """--top-k 0.25 keeps the quarter of a batch the critic rates most real (rounded, at least one)."""
    import numpy as np

    from gantool.train.build import build_gan

    logits = np.arange(8, dtype=np.float32)[::-1].copy()[:, None] * 0.5 - 1.0  # 2.5, 2.0, ..., -1.0
    np.random.default_rng(0).shuffle(logits)
    kept = {fraction: np.sort(np.asarray(build_gan(TrainConfig(epochs=1, top_k=fraction))
                                         ._best_rated(logits))[:, 0])
            for fraction in (1.0, 0.25, 0.01)}
    np.testing.assert_array_equal(kept[1.0], np.sort(logits[:, 0]))
    np.testing.assert_array_equal(kept[0.25], [2.0, 2.5])
    np.testing.assert_array_equal(kept[0.01], [2.5])
    for bad in (0.0, 1.5):
        with pytest.raises(GantoolError, match="`top_k` must be a fraction"):
            TrainConfig(epochs=1, top_k=bad)


def test_aux_sharpen_max_pushes_an_even_blend_towards_a_class():
    """Entropy has a saddle at an even blend of two digits (zero gradient); -log max p does not."""
    import numpy as np
    import tensorflow as tf

    from gantool.train.build import build_gan

    blend = np.full((4, 10), -20.0, dtype=np.float32)
    blend[:, :2] = 20.0
    blend[:, 0] += 1e-3  # class 0 leads by a hair
    slopes = {}
    for sharpen in ("entropy", "max"):
        gan = build_gan(TrainConfig(epochs=1, aux_weight=1.0, aux_sharpen=sharpen))
        logits = tf.Variable(blend)
        with tf.GradientTape() as tape:
            uncertainty = gan._uncertainty(logits)
        slopes[sharpen] = tape.gradient(uncertainty, logits).numpy()
        assert float(uncertainty) == pytest.approx(np.log(2.0), abs=1e-3)
    assert np.abs(slopes["entropy"]).max() < 1e-3
    # Descending -log max p raises the leading class's logit and lowers the other's.
    assert np.all(slopes["max"][:, 0] < -0.1) and np.all(slopes["max"][:, 1] > 0.1)
    with pytest.raises(GantoolError, match="`aux_sharpen` needs `aux_weight`"):
        TrainConfig(epochs=1, aux_sharpen="max")
    with pytest.raises(GantoolError, match="`aux_sharpen` must be one of"):
        TrainConfig(epochs=1, aux_weight=1.0, aux_sharpen="min")


def test_aux_sharpen_code_asks_each_latent_for_the_digit_it_names():
    """The class reward of "code" is the cross-entropy to argmax(z[:10]): an even blend of digits 0
    and 1 is pushed towards whichever the latent names, whatever the head currently prefers."""
    import numpy as np
    import tensorflow as tf

    from gantool.train.build import build_gan

    gan = build_gan(TrainConfig(epochs=1, aux_weight=1.0, aux_sharpen="code"))
    z = np.random.default_rng(0).normal(size=(4, gan.latent_dim)).astype(np.float32)
    z[:, :10] = -5.0
    named = np.array([1, 1, 7, 7])
    z[np.arange(4), named] = 5.0
    np.testing.assert_array_equal(gan.latent_class(tf.constant(z)).numpy(), named)
    blend = np.full((4, 10), -20.0, dtype=np.float32)
    blend[:, :2] = 20.0
    blend[:, 0] += 1e-3  # the head leans to 0, the latents name 1 and 7
    logits = tf.Variable(blend)
    with tf.GradientTape() as tape:
        uncertainty = gan._uncertainty(logits, tf.constant(z))
    slope = tape.gradient(uncertainty, logits).numpy()
    # Descending the term raises each latent's named digit and lowers the rest.
    assert np.all(slope[np.arange(4), named] < 0)
    others = np.ones_like(slope, dtype=bool)
    others[np.arange(4), named] = False
    assert np.all(slope[others] >= 0)
    assert float(uncertainty) > 10  # digits 7 have almost no probability under the head
    with pytest.raises(GantoolError, match="`latent_dim` 8 is too short"):
        TrainConfig(epochs=1, aux_weight=1.0, aux_sharpen="code", latent_dim=8)
    with pytest.raises(GantoolError, match="`aux_sharpen` needs `aux_weight`"):
        TrainConfig(epochs=1, aux_sharpen="code")


def test_code_gain_scales_the_first_layer_on_the_code_and_nothing_else():
    """code_gain multiplies the first Dense layer's rows for z[:10] at initialization; every other
    weight is the initializer's, drawn from the same seed."""
    import numpy as np

    from gantool.train.build import build_gan

    for arch, layer in (("dcgan", "project"), ("mlp", "dense256")):
        plain, gained = (build_gan(TrainConfig(epochs=1, arch=arch, code_gain=gain)).generator for gain in (1.0, 3.0))
        before, after = plain.get_layer(layer).kernel.numpy(), gained.get_layer(layer).kernel.numpy()
        np.testing.assert_allclose(after[:10], 3.0 * before[:10], rtol=1e-6)
        np.testing.assert_array_equal(after[10:], before[10:])
        for a, b in zip(plain.weights, gained.weights, strict=True):
            if a.path != plain.get_layer(layer).kernel.path:
                np.testing.assert_array_equal(a.numpy(), b.numpy())
    for bad, message in (({"code_gain": 0.0}, r"`code_gain` must be in \(0, 10\]"),
                         ({"code_gain": 2.0, "latent_dim": 8}, "`latent_dim` 8 is too short"),
                         ({"code_gain": 2.0, "arch": "cdcgan"}, "needs an unconditional MNIST arch")):
        with pytest.raises(GantoolError, match=message):
            TrainConfig(epochs=1, **bad)


@pytest.mark.slow
def test_code_onehot_reads_the_named_digit_as_a_one_hot_and_exports(tmp_path, fixture_npz):
    """code_onehot puts one-hot(argmax z[:10]) in front of the same layers with the same seed's weights;
    a run saves it so, and it loads in safe mode and converts to ONNX and TFLite with builtin ops only."""
    import numpy as np

    from gantool.export.keras_to_onnx import export_onnx
    from gantool.export.keras_to_tflite import to_tflite_bytes
    from gantool.export.registry import Quantization
    from gantool.export.source import load_source
    from gantool.runtime.generator import Generator
    from gantool.train.build import build_gan
    from gantool.train.trainer import train

    z = np.random.default_rng(3).standard_normal((16, 100)).astype("float32")
    named = z.copy()
    named[:, :10] = np.eye(10, dtype="float32")[z[:, :10].argmax(axis=1)]
    for arch in ("dcgan", "mlp"):
        plain, coded = (build_gan(TrainConfig(epochs=1, arch=arch, code_onehot=onehot)).generator
                        for onehot in (False, True))
        for a, b in zip(plain.weights, coded.weights, strict=True):
            np.testing.assert_array_equal(a.numpy(), b.numpy())
        np.testing.assert_allclose(coded(z, training=False), plain(named, training=False), atol=1e-6)
        assert not np.allclose(coded(z, training=False), plain(z, training=False), atol=1e-3)
    # What a run saves (averaged weights, recalibrated BatchNorm) reads the code as a one-hot too.
    run = train(TrainConfig(epochs=1, steps_per_epoch=2, batch_size=32, ema_decay=0.9, aux_weight=1.0,
                            aux_sharpen="code", code_onehot=True), tmp_path / "run", data=str(fixture_npz),
                log=lambda *_: None)
    model, contract, _ = load_source(run.root)
    np.testing.assert_array_equal(model(z, training=False), model(named, training=False))
    assert contract.digit_code == 10
    export_onnx(model, contract, tmp_path / "coded.onnx")  # checks parity with Keras itself
    np.testing.assert_allclose(Generator.load(tmp_path / "coded.onnx").generate(z), model(named, training=False),
                               atol=1e-5)
    assert to_tflite_bytes(model, contract, Quantization.none)  # Keras's argmax would need TF Select ops here
    # int8's second try keeps the one-hot's ops in float: an int8 latent would turn near-ties into ties.
    from ai_edge_litert.interpreter import Interpreter

    from gantool.export.keras_to_tflite import INT8_FLOAT_OPS, builtin_ops

    int8 = to_tflite_bytes(model, contract, Quantization.int8, 64, INT8_FLOAT_OPS)
    assert {"REDUCE_MAX", "GREATER_EQUAL", "FULLY_CONNECTED"} <= builtin_ops(int8)
    interpreter = Interpreter(model_content=int8)
    dtypes = {t["index"]: t["dtype"] for t in interpreter.get_tensor_details()}
    for op in interpreter._get_ops_details():
        if op["op_name"] in ("REDUCE_MAX", "GREATER_EQUAL"):
            assert dtypes[op["inputs"][0]] == np.float32  # the code itself (REDUCE_MAX's second input: its axis)
    with pytest.raises(GantoolError, match="`latent_dim` 8 is too short"):
        TrainConfig(epochs=1, code_onehot=True, latent_dim=8)
    with pytest.raises(GantoolError, match="needs an unconditional MNIST arch"):
        TrainConfig(epochs=1, code_onehot=True, arch="cdcgan")


@pytest.mark.slow
def test_code_critic_judges_each_fake_with_the_digit_its_latent_names(tmp_path, fixture_npz):
    """code_critic: the conditional DCGAN's critic, given latent_class(z) for fakes and true labels for
    real digits; the generator stays unconditional and its model says that the latent names the digit."""
    import numpy as np
    import tensorflow as tf

    from gantool.train.build import build_gan
    from gantool.train.trainer import train

    config = TrainConfig(epochs=1, steps_per_epoch=2, batch_size=32, ema_decay=0.9, code_onehot=True, code_critic=True)
    gan = build_gan(config)
    assert [i.name for i in gan.discriminator.inputs] == ["image", "label"] and len(gan.generator.inputs) == 1
    z, labels, fakes = gan._generate(16)
    np.testing.assert_array_equal(labels.numpy(), tf.argmax(z[:, :10], axis=1).numpy())
    assert fakes.shape == (16, 28, 28, 1)
    run = train(config, tmp_path / "run", data=str(fixture_npz), log=lambda *_: None)
    contract = json.loads(run.config.read_text())["contract"]
    assert contract["digit_code"] == 10 and contract["num_classes"] == 0
    for bad, message in (({"aux_weight": 1.0}, "set `aux_weight` 0"),
                         ({"arch": "cdcgan"}, "needs an unconditional MNIST arch"),
                         ({"latent_dim": 8}, "`latent_dim` 8 is too short")):
        with pytest.raises(GantoolError, match=message):
            TrainConfig(epochs=1, code_critic=True, **bad)


def test_a_run_of_a_version_with_other_networks_is_refused_in_one_line(tmp_path):
    """cdcgan-paper v2 changed its critic (a v1 checkpoint does not fit it) and v3 its initial weights: resuming a
    run of an earlier version says so in one line, not a shape error; so does dcgan-paper v1 since v2."""
    import dataclasses

    from gantool.train.checkpoint import save_checkpoint
    from gantool.train.recipes import recipe, run_recipe
    from gantool.train.trainer import RunDir

    assert recipe("cdcgan-paper").resumable_from == recipe("cdcgan-paper").version == 3
    assert recipe("dcgan-paper").resumable_from == recipe("dcgan-paper").version == 2
    for name, version in (("cdcgan-paper", 1), ("cdcgan-paper", 2), ("dcgan-paper", 1)):
        current = recipe(name)
        older = dataclasses.replace(current.configs({"epochs": 2})[-1], recipe_version=version)
        run = RunDir(tmp_path / f"{name}-v{version}")
        run.checkpoint.parent.mkdir(parents=True)
        save_checkpoint(run.checkpoint, {}, 1, older)
        for chosen in (None, current):
            with pytest.raises(GantoolError, match=rf"recipe {name} v{version}, whose networks this version no longer "
                                                   rf"builds \(v{current.version}'s differ\); its checkpoint cannot be "
                                                   r"resumed: start a new run"):
                run_recipe(chosen, run.root, resume=True, log=lambda line: None)
