"""selinux: the mode from data (permissive by default) now and in /etc/selinux/config; back
from disabled through a relabel boot (RHEL); disabled by the kernel argument on RHEL 9+."""

from fleet.hosts import checked_host
from operations import selinux

checked = checked_host()
if checked:
    settings, platform = checked
    rhel = platform.family == "rhel"
    selinux.mode(
        name=f"SELinux {settings.selinux_mode}",
        mode=settings.selinux_mode,
        # Debian's SELinux also needs kernel arguments (selinux-activate): the config only there.
        relabel=rhel,
        kernel_arg_disables=rhel and int(platform.version.split(".")[0]) >= 9,
    )
