"""Real SIGKILLs for crash-safety tests: a process that kills itself at a chosen moment, or a kill from outside.

``kill_env(tmp_path, "pkg.module", "Class.method", n)`` returns environment variables that make a Python
subprocess send itself SIGKILL just before the n-th call of that function (a ``sitecustomize`` installed for
the child only patches the module right after it is imported). Nothing here runs in the tested code itself.
"""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Callable

REPO = Path(__file__).resolve().parents[1]

SITECUSTOMIZE = '''
import importlib.abc, importlib.util, os, signal, sys

_MODULE, _ATTR, _N = os.environ["S3VAE_TEST_KILL"].split("|")
_N = int(_N)


def _patch(module):
    owner = module
    *parents, name = _ATTR.split(".")
    for part in parents:
        owner = getattr(owner, part)
    original = getattr(owner, name)
    calls = [0]

    def wrapper(*args, **kwargs):
        calls[0] += 1
        if calls[0] == _N:
            sys.stdout.flush()
            os.kill(os.getpid(), signal.SIGKILL)
        return original(*args, **kwargs)

    setattr(owner, name, wrapper)


class _AfterImport(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name != _MODULE:
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        execute = spec.loader.exec_module

        def exec_module(module):
            execute(module)
            _patch(module)

        spec.loader.exec_module = exec_module
        return spec


sys.meta_path.insert(0, _AfterImport())
'''


def kill_env(tmp_path: Path, module: str, attribute: str, n: int) -> dict[str, str]:
    """Environment for a child that SIGKILLs itself before the ``n``-th call of ``module.attribute``."""
    hook = Path(tmp_path) / "kill-hook"
    hook.mkdir(exist_ok=True)
    (hook / "sitecustomize.py").write_text(SITECUSTOMIZE)
    return {"PYTHONPATH": os.pathsep.join([str(hook), str(REPO)]), "S3VAE_TEST_KILL": f"{module}|{attribute}|{n}"}


def run(command: list[str], env: dict[str, str] | None = None, kill_when: Callable[[], bool] | None = None,
        timeout: float = 300) -> int:
    """Run ``command`` from the repository root; SIGKILL it from outside once ``kill_when()`` is true.

    Returns the exit status (``-SIGKILL`` when it was killed, by itself or from here).
    """
    full_env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(REPO), **(env or {})}
    err_file = tempfile.TemporaryFile()
    process = subprocess.Popen(command, cwd=REPO, env=full_env, stdout=subprocess.DEVNULL, stderr=err_file)
    deadline = time.monotonic() + timeout
    while process.poll() is None:
        if kill_when is not None and kill_when():
            process.send_signal(signal.SIGKILL)
            break
        if time.monotonic() > deadline:
            process.kill()
            raise TimeoutError(f"{command} did not finish in {timeout} s")
        time.sleep(0.05)
    process.wait()
    err_file.seek(0)
    err = err_file.read().decode(errors="replace")
    err_file.close()
    assert "Traceback" not in err, err[-3000:]
    return process.returncode
