"""The embedded synthetic datasets by name: what ``--data synth`` and ``--data synth-image`` build.

One table serves every place that needs a generator (the ``--data`` parser,
the build, the rendering worker), so a new generator is added here once.
The settings classes are imported on use: naming a generator costs nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module
from typing import Any

from spaces.errors import unknown_name


@dataclass(frozen=True)
class Generator:
    """A synthetic dataset: its settings class and the function rendering one item ``(settings, label, index)``."""

    name: str
    module: str
    settings_class: str
    render_function: str

    def settings_type(self) -> type:
        return getattr(import_module(self.module), self.settings_class)

    def render(self, settings: Any, label: int, index: int):
        render: Callable = getattr(import_module(self.module), self.render_function)
        return render(settings, label, index)


GENERATORS: dict[str, Generator] = {
    "synth": Generator("synth", "estimators.data.synthetic", "SynthSettings", "render_job"),
    "synth-motion": Generator("synth-motion", "estimators.data.synthetic", "MotionSynthSettings", "render_job"),
    "synth-image": Generator(
        "synth-image", "estimators.data.synthetic_images", "ImageSynthSettings", "render_image_job"
    ),
}


def get_generator(name: str) -> Generator:
    if name not in GENERATORS:
        raise unknown_name("synthetic dataset", name, list(GENERATORS))
    return GENERATORS[name]


def generator_of(settings: Any) -> Generator:
    """The generator whose settings ``settings`` are."""
    for generator in GENERATORS.values():  # the exact class first: a subclass names its own dataset
        if type(settings) is generator.settings_type():
            return generator
    for generator in GENERATORS.values():
        if isinstance(settings, generator.settings_type()):
            return generator
    raise TypeError(f"{type(settings).__name__} is not the settings of a synthetic dataset")
