"""selinux: the mode from data (permissive by default) now and in /etc/selinux/config; back
from disabled through a relabel boot (RHEL); disabled by the kernel argument on RHEL 9+."""

from pyinfra import host
from pyinfra.api import deploy

from kubeprep.errors import DataError
from kubeprep.facts.selinux import SelinuxMode
from kubeprep.fleet.hosts import checked_host, refuse
from kubeprep.keys import deploy_defaults
from kubeprep.operations import selinux as selinux_operations


@deploy("SELinux", data_defaults=deploy_defaults())
def selinux() -> None:
    """
    SELinux in the ``selinux_mode`` of the host's data, now and at boot.

    **Example:**

    .. code:: python

        from kubeprep.deploys.selinux import selinux

        selinux(_sudo=True)
    """
    checked = checked_host()
    if not checked:
        return
    settings, platform = checked
    rhel = platform.family == "rhel"
    kernel_arg_disables = rhel and int(platform.version.split(".")[0]) >= 9
    state = (host.get_fact(SelinuxMode)
             if settings.selinux_mode == "disabled" and kernel_arg_disables else None)
    # RHEL 9's config no longer disables SELinux: without grubby to add selinux=0 the mode
    # cannot be reached, so the host stops here, before any task changes it.
    if state and state["boot_args"] is None and (state["current"] or state["config"]):
        refuse(DataError(
            f"{host.name}: selinux_mode = 'disabled': on {platform.distro} {platform.version} "
            "only the selinux=0 kernel argument disables SELinux, and grubby, which adds it, is "
            "not installed. Fix: install grubby (dnf install grubby), or set "
            "selinux_mode = 'permissive'.",
        ))
    else:
        selinux_operations.mode(
            name=f"SELinux {settings.selinux_mode}",
            mode=settings.selinux_mode,
            # Debian's SELinux also needs kernel arguments (selinux-activate): the config only
            # there.
            relabel=rhel,
            kernel_arg_disables=kernel_arg_disables,
        )
