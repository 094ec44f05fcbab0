"""swap: off now (swapoff -a) and after a reboot (fstab swap entries commented, with a backup)."""

from pyinfra import host

from kubeprep.prepare import checked_host
from operations import swap

checked = checked_host()
if checked:
    settings, _ = checked
    if settings.swap == "off":
        swap.off(name="Swap off, now and at boot")
    else:
        host.noop("swap = 'keep': swap is left as it is")
