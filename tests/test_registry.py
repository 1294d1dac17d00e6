"""The one registry type and spec grammar every box uses (`clusterank.registry`)."""

from dataclasses import dataclass
from typing import ClassVar

import pytest

from clusterank import ClusterankError
from clusterank.registry import POSITIVE, Backend, Param, Registry, Spec, canonical, typed_params, whole


@dataclass(frozen=True)
class Toy(Backend):
    """A record of a box made up for the test."""

    noun: ClassVar[str] = "toy"


def build(argument, **params):
    return argument, params


FIXED = Toy("plain", "a fixed name", build, {"batch": Param(whole, 8, "rows per call", POSITIVE)},
            examples=("plain",))
PREFIX = Toy("path:", "a prefix taking an argument", build, {"batch": Param(whole, 8, "rows per call", POSITIVE)},
             argument="<folder>")


@pytest.fixture()
def registry():
    return Registry("toy", (FIXED, PREFIX))


def test_fixed_names_take_parameters_after_a_colon(registry):
    spec = registry.parse(" Plain : batch = 4 ")
    assert spec == Spec("plain", (("batch", "4"),)) and str(spec) == "plain:batch=4"
    assert typed_params(FIXED, spec) == {"batch": 4} and canonical(FIXED, spec) == "plain:batch=4"


def test_a_prefix_argument_keeps_commas_and_equals_that_are_not_declared_parameters(registry):
    spec = registry.parse("path:/m/a,b?x=1,batch=16")
    assert spec.name == "path:" and spec.argument == "/m/a,b?x=1" and spec.params == (("batch", "16"),)
    assert str(spec) == "path:/m/a,b?x=1,batch=16"
    assert registry.parse("PATH:/Models/E5").argument == "/Models/E5", "the argument keeps its case"


@pytest.mark.parametrize("text, message", [
    ("nope", "unknown toy 'nope'; known: plain:batch=8, path:<folder>,batch=8"),
    ("path:", "say what follows 'path:'"),
    ("plain:batch", "'batch' is not param=value"),
    ("", "toy name '' is empty"),
])
def test_bad_specs_are_one_clear_error(registry, text, message):
    with pytest.raises(ClusterankError, match=message.replace("?", r"\?").replace("(", r"\(")):
        registry.parse(text)


def test_parameter_values_are_checked_against_their_bounds(registry):
    with pytest.raises(ClusterankError, match="toy 'plain:batch=0': batch='0' is not valid"):
        typed_params(FIXED, registry.parse("plain:batch=0"))
    with pytest.raises(ClusterankError, match="unknown parameter 'size'"):
        typed_params(FIXED, registry.parse("plain:size=3"))


def test_missing_packages_name_the_install_command(registry):
    ghost = registry.register(Toy("ghost", "needs a package that is not here", build,
                                  needs=("clusterank_no_such_package",)))
    assert ghost.status().startswith("unavailable: pip install") and ghost not in registry.available()
    with pytest.raises(ClusterankError, match="toy 'ghost' needs the Python package 'clusterank_no_such_package'"):
        registry.find("ghost")
    with pytest.raises(ClusterankError, match="registered twice"):
        registry.register(ghost)
    assert registry.unregister("ghost") is ghost and "ghost" not in registry


def test_plugins_register_through_entry_points(monkeypatch):
    class Point:
        def __init__(self, name, value):
            self.name, self.value = name, value

        def load(self):
            if isinstance(self.value, Exception):
                raise self.value
            return self.value

    points = [Point("extra", Toy("extra", "from another package", build)), Point("broken", ImportError("gone"))]
    monkeypatch.setattr("importlib.metadata.entry_points", lambda group: points if group == "clusterank.toys" else [])
    registry = Registry("toy", (FIXED,), group="clusterank.toys")
    assert "extra" not in registry, "plugins load only when a name is not found"
    assert registry.find("extra")[0].summary == "from another package"
    with pytest.raises(ClusterankError, match="unknown toy 'other'"):
        registry.parse("other")
