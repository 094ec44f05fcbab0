"""kubeprep.deploys from another project: each deploy imported and called in a deploy file of its
own, with no group_data/, plans what its task file plans; the task files and deploy.py only call
them; what ``pip install`` puts in site-packages is the one package ``kubeprep``."""

from __future__ import annotations

import ast
import importlib
import textwrap
from pathlib import Path

import pytest
from host_states import converged, fresh
from kube_states import packages_facts
from setuptools.config.pyprojecttoml import read_configuration
from taskrun import ROOT, run_deploy

import kubeprep.deploys
from kubeprep.keys import TASKS, deploy_defaults

# deploy.py's order; "deploy" is deploy.py itself and "check" is check.py.
DEPLOYS = [task for task in TASKS if task not in ("deploy", "check")]


def their_deploy(tmp_path: Path, call: str, task: str = "kernel") -> str:
    """Another project's deploy file that imports kubeprep's ``task`` deploy and runs ``call``."""
    path = tmp_path / "their_deploy.py"
    path.write_text(f"from kubeprep.deploys.{task} import {task}\n\n{call}\n")
    return str(path)


# The deploys of one node each (the cluster needs a whole fleet: tests/test_cluster.py).
ONE_HOST = ["account", "firewall", "swap", "kernel", "selinux", "runtime"]
# (task, facts, group): fresh control planes and converged workers (per-role ports) of each family.
HOSTS = [
    *[pytest.param(task, fresh(family), "control_plane", id=f"{task}-{family}-fresh")
      for task in ONE_HOST for family in ("rhel", "debian")],
    *[pytest.param(task, converged(family, "workers"), "workers", id=f"{task}-{family}-worker")
      for task in ONE_HOST for family in ("rhel", "debian")],
    *[pytest.param("kubernetes", packages_facts(platform, case, None), "control_plane",
                   id=f"kubernetes-{platform}-fresh")
      for platform, case in (("debian12", "debian_none_installed"),
                             ("rocky9", "rocky_none_installed"))],
]


@pytest.mark.parametrize(("task", "facts", "group"), HOSTS)
def test_another_project_calls_a_deploy_without_our_group_data(tmp_path, task, facts, group):
    theirs = run_deploy(their_deploy(tmp_path, f"{task}()", task), facts, group=group,
                        project_data=False)
    ours = run_deploy(f"tasks/{task}.py", facts, group=group)
    assert not theirs.failed and theirs.errors == []
    assert theirs.ops and theirs.ops == ours.ops
    assert theirs.fact_reads == ours.fact_reads


def test_without_the_deploys_data_defaults_the_host_is_refused(tmp_path):
    """What makes the call above work: the undecorated function, outside the deploy, lacks them."""
    run = run_deploy(their_deploy(tmp_path, "kernel._inner()"), fresh("rhel"), project_data=False)
    assert run.failed and run.ops == []
    assert "required key deploy_until is missing" in run.errors[0]


@pytest.mark.parametrize("task", DEPLOYS)
def test_each_deploy_has_every_declared_default_and_a_usage_example(task):
    deploy = getattr(importlib.import_module(f"kubeprep.deploys.{task}"), task)
    assert deploy._inner.deploy_data == deploy_defaults()
    assert deploy.deploy_name and deploy.deploy_name != task
    example = deploy.__doc__.split("**Example:**")[1]
    assert f"from kubeprep.deploys.{task} import {task}" in example
    assert f"\n        {task}(" in example


def test_every_default_but_the_inventory_keys_is_a_deploy_default():
    defaults = deploy_defaults()
    assert {"deploy_until", "admin_user", "firewall_ports", "kernel_modules"} <= set(defaults)
    assert "cluster_address" not in defaults and "probe_prefix" not in defaults


def test_the_deploys_are_the_tasks_listed_in_order():
    modules = sorted(path.stem for path in (ROOT / "kubeprep" / "deploys").glob("*.py"))
    assert modules == sorted(["__init__", *DEPLOYS])
    assert sorted(path.stem for path in (ROOT / "tasks").glob("*.py")) == sorted(DEPLOYS)
    listed = [line.split("``")[1] for line in kubeprep.deploys.__doc__.splitlines()
              if line.startswith("- ``")]
    assert listed == [f"{task}.{task}" for task in DEPLOYS]


@pytest.mark.parametrize("task", DEPLOYS)
def test_each_task_file_only_calls_its_deploy(task):
    body = ast.parse((ROOT / "tasks" / f"{task}.py").read_text()).body
    assert [ast.unparse(node) for node in body[1:]] == [
        f"from kubeprep.deploys.{task} import {task}", f"{task}()",
    ]
    assert isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)


def test_deploy_py_calls_the_deploys_in_order():
    calls = [node.func.id for node in ast.walk(ast.parse((ROOT / "deploy.py").read_text()))
             if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
             and node.func.id in DEPLOYS]
    assert sorted(calls, key=DEPLOYS.index) == calls and set(calls) == set(DEPLOYS)


def test_the_wheel_holds_the_one_package_kubeprep():
    """The packages setuptools builds the wheel of, found as pip's build does from pyproject."""
    packages = read_configuration(ROOT / "pyproject.toml")["tool"]["setuptools"]["packages"]
    assert {name.split(".")[0] for name in packages} == {"kubeprep"}
    # Every folder of Python modules under kubeprep/ is in it, none left out of the wheel.
    folders = {path.parent for path in (ROOT / "kubeprep").rglob("*.py")}
    assert set(packages) == {
        ".".join(folder.relative_to(ROOT).parts) for folder in folders
    } >= {"kubeprep.deploys", "kubeprep.facts", "kubeprep.fleet", "kubeprep.operations"}


def test_the_usage_example_of_the_package_docstring_names_real_deploys():
    example = textwrap.dedent(kubeprep.deploys.__doc__.split(".. code:: python")[1])
    imported = [node for node in ast.walk(ast.parse(example)) if isinstance(node, ast.ImportFrom)]
    assert imported
    for node in imported:
        assert all(hasattr(importlib.import_module(node.module), alias.name)
                   for alias in node.names)
