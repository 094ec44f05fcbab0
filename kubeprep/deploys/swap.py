"""swap: off now and after a reboot (zram-generator, hand-written .swap units, swap.target, fstab),
or, with ``swap = "keep"``, all of that undone where kubeprep did it."""

from pyinfra.api import deploy

from kubeprep.fleet.hosts import checked_host
from kubeprep.keys import deploy_defaults
from kubeprep.operations import swap as swap_operations


@deploy("Swap", data_defaults=deploy_defaults())
def swap() -> None:
    """
    Swap off now and at boot, or with ``swap = "keep"`` what kubeprep did to it undone.

    **Example:**

    .. code:: python

        from kubeprep.deploys.swap import swap

        swap(_sudo=True)
    """
    checked = checked_host()
    if not checked:
        return
    settings, _ = checked
    if settings.swap == "off":
        # zram first: its own swapoff would fail once `swapoff -a` below has run.
        swap_operations.zram(
            name="zram swap off, now and at boot (zram-generator config overridden)",
        )
        swap_operations.units(name="Hand-written .swap units stopped and masked")
        swap_operations.swap_target(name="swap.target masked, so nothing starts swap at boot")
        swap_operations.off(name="Swap off, now and at boot")
    else:
        swap_operations.zram(disabled=False, name="swap = keep: zram-generator config restored")
        swap_operations.units(
            masked=False, name="swap = keep: .swap units masked by kubeprep restored",
        )
        swap_operations.swap_target(masked=False, name="swap = keep: swap.target unmasked")
        swap_operations.on(name="swap = keep: fstab swap entries uncommented, swap on")
