"""kernel: overlay and br_netfilter loaded now and at boot, then the k8s sysctls set and applied."""

from io import StringIO

from pyinfra import host
from pyinfra.operations import files, server

from facts.kernel import BuiltinKernelModules
from fleet.hosts import checked_host
from operations import sysctl

checked = checked_host()
if checked:
    settings, _ = checked
    modules = list(settings.kernel_modules)
    files.put(
        name=f"Load {', '.join(modules)} at boot",
        src=StringIO("".join(f"{module}\n" for module in modules)),
        dest=settings.kernel_modules_file,
        mode="644",
    )
    # Built-in modules cannot be loaded, and the kernel does not change during the run.
    builtin = host.get_fact(BuiltinKernelModules, modules=modules)
    loadable = [module for module in modules if module not in builtin]
    if loadable:
        # Before the sysctls: net.bridge.* only exist once br_netfilter is loaded.
        server.modprobe(name=f"Load {', '.join(loadable)} now", module=loadable)
    sysctl.persisted(
        name=f"Kernel parameters in {settings.kernel_sysctl_file}, applied",
        path=settings.kernel_sysctl_file,
        values=dict(settings.kernel_sysctls),
    )
