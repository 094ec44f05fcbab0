"""swap: off now and after a reboot (zram-generator, hand-written .swap units, swap.target, fstab),
or, with ``swap = "keep"``, all of that undone where kubeprep did it."""

from kubeprep.fleet.hosts import checked_host
from kubeprep.operations import swap

checked = checked_host()
if checked:
    settings, _ = checked
    if settings.swap == "off":
        # zram first: its own swapoff would fail once `swapoff -a` below has run.
        swap.zram(name="zram swap off, now and at boot (zram-generator config overridden)")
        swap.units(name="Hand-written .swap units stopped and masked")
        swap.swap_target(name="swap.target masked, so nothing starts swap at boot")
        swap.off(name="Swap off, now and at boot")
    else:
        swap.zram(disabled=False, name="swap = keep: zram-generator config restored")
        swap.units(masked=False, name="swap = keep: .swap units masked by kubeprep restored")
        swap.swap_target(masked=False, name="swap = keep: swap.target unmasked")
        swap.on(name="swap = keep: fstab swap entries uncommented, swap on")
