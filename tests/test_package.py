"""The package's promises: a light import, the console script and `python -m clusterank`."""

import subprocess
import sys


def test_import_is_light():
    code = ("import sys, clusterank; heavy = [m for m in ('torch', 'sentence_transformers', 'transformers', "
            "'onnxruntime', 'model2vec', 'faiss', 'datasets') if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


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
