"""The package's promises: a light import, the console script and `python -m clusterank`."""

import importlib
import json
import subprocess
import sys

import pytest

PACKAGES = ["clusterank", "clusterank.cluster", "clusterank.cost", "clusterank.distributed", "clusterank.embed",
            "clusterank.index", "clusterank.rerank", "clusterank.server"]

HEAVY = ("pandas", "torch", "sklearn", "faiss", "plotly", "fastapi", "httpx", "tqdm")


def loaded_by(module: str) -> tuple[list[str], list[str]]:
    """The clusterank modules and the heavy packages that importing `module` in a fresh interpreter loads."""
    code = f"import json, sys, {module}; print(json.dumps(sorted(sys.modules)))"
    names = json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                      check=True).stdout)
    return [m for m in names if m.split(".")[0] == "clusterank"], [m for m in names if m in HEAVY]


def test_import_is_light():
    code = ("import sys, clusterank; heavy = [m for m in ('torch', 'sentence_transformers', 'transformers', "
            "'onnxruntime', 'model2vec', 'faiss', 'datasets') if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_import_loads_few_of_its_own_modules():
    """The public names load on first use (PEP 562): `import clusterank` loads neither the backends nor pandas."""
    own, heavy = loaded_by("clusterank")
    assert len(own) <= 15, own
    assert heavy == []


def test_the_cli_loads_the_library_inside_its_commands():
    """`clusterank --help` stays quick: the commands import the heavy parts of the library when they run."""
    _, heavy = loaded_by("clusterank.cli")
    assert heavy == []


@pytest.mark.parametrize("package", PACKAGES)
def test_every_exported_name_resolves(package):
    module = importlib.import_module(package)
    namespace = {}
    exec(f"from {package} import *", namespace)  # noqa: S102  (star import goes through __getattr__)
    absent = object()
    assert [name for name in module.__all__ if getattr(module, name, absent) is absent] == []
    assert [name for name in module.__all__ if name not in namespace or name not in dir(module)] == []
    with pytest.raises(AttributeError):
        module.no_such_name  # noqa: B018


def test_python_dash_m_runs_the_cli():
    proc = subprocess.run([sys.executable, "-m", "clusterank", "models", "--format", "json"], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0 and '"id": "minilm-static"' in proc.stdout


def test_every_public_name_has_a_docstring():
    import inspect

    import clusterank

    missing = [name for name in clusterank.__all__
               if (inspect.isclass(getattr(clusterank, name)) or inspect.isfunction(getattr(clusterank, name)))
               and not inspect.getdoc(getattr(clusterank, name))]
    assert missing == []
