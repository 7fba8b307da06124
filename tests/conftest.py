"""Test settings: quiet TensorFlow, two logical CPU devices for MirroredStrategy tests."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# What `import reszoo` sets for users (see reszoo/__init__.py); here TensorFlow is imported first.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import pytest  # noqa: E402


def pytest_configure(config):
    import tensorflow as tf

    # Two logical CPUs so tf.distribute.MirroredStrategy has two replicas to mirror.
    # Must run before TensorFlow initialises its devices.
    cpus = tf.config.list_physical_devices("CPU")
    try:
        tf.config.set_logical_device_configuration(
            cpus[0], [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()]
        )
    except RuntimeError:
        pass


@pytest.fixture(autouse=True)
def _fresh_keras_state():
    import keras

    keras.utils.set_random_seed(0)
    yield
    keras.backend.clear_session()
