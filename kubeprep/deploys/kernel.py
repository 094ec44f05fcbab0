"""kernel: overlay and br_netfilter loaded now and at boot, then the k8s sysctls set and applied."""

from io import StringIO

from pyinfra import host
from pyinfra.api import deploy
from pyinfra.operations import files, server

from kubeprep.facts.kernel import KernelModulesSetup
from kubeprep.fleet.hosts import checked_host
from kubeprep.kernel import (
    MODULES_FILE_MODE,
    builtin_modules,
    modules_file_converged,
    modules_file_text,
    unloaded_modules,
)
from kubeprep.keys import deploy_defaults
from kubeprep.operations import sysctl


@deploy("Kernel modules and sysctls", data_defaults=deploy_defaults())
def kernel() -> None:
    """
    The ``kernel_modules`` loaded now and at boot (``kernel_modules_file``), then the
    ``kernel_sysctls`` set in ``kernel_sysctl_file`` and applied.

    **Example:**

    .. code:: python

        from kubeprep.deploys.kernel import kernel

        kernel(_sudo=True)
    """
    checked = checked_host()
    if not checked:
        return
    settings, _ = checked
    modules = list(settings.kernel_modules)
    text = modules_file_text(modules)
    # One read decides both operations below at run time (each reads more facts otherwise):
    # nothing before this task loads the modules or writes their file, and the kernel does not
    # change during the run.
    setup = host.get_fact(KernelModulesSetup, modules=modules, path=settings.kernel_modules_file)
    files.put(
        name=f"Load {', '.join(modules)} at boot",
        src=StringIO(text),
        dest=settings.kernel_modules_file,
        mode=MODULES_FILE_MODE,
        _if=lambda: not modules_file_converged(setup, text),
    )
    # Built-in modules cannot be loaded.
    loadable = [module for module in modules if module not in builtin_modules(setup, modules)]
    if loadable:
        # Before the sysctls: net.bridge.* only exist once br_netfilter is loaded.
        server.modprobe(
            name=f"Load {', '.join(loadable)} now", module=loadable,
            _if=lambda: bool(unloaded_modules(setup, loadable)),
        )
    sysctl.persisted(
        name=f"Kernel parameters in {settings.kernel_sysctl_file}, applied",
        path=settings.kernel_sysctl_file,
        values=dict(settings.kernel_sysctls),
    )
