"""runtime: containerd installed (the distribution's on Debian/Ubuntu, with its CNI plugins;
Docker's containerd.io on the RHEL family), configured for the installed version and the cgroup
driver, running."""

from pyinfra import host
from pyinfra.api import deploy
from pyinfra.operations import apt, dnf

from kubeprep.facts.packages import PackageSources
from kubeprep.fleet.hosts import checked_host, refuse
from kubeprep.fleet.sources import sources_error
from kubeprep.keys import deploy_defaults
from kubeprep.operations import containerd


@deploy("Container runtime", data_defaults=deploy_defaults())
def runtime() -> None:
    """
    containerd installed, configured for the kubelet (``cgroup_driver`` and the
    ``containerd_*`` keys of the host's data), running and enabled.

    **Example:**

    .. code:: python

        from kubeprep.deploys.runtime import runtime

        runtime(_sudo=True)
    """
    checked = checked_host()
    if not checked:
        return
    settings, platform = checked
    runtime = settings.runtime
    package = runtime.package_spec(platform.family)
    # The CNI plugins on Debian/Ubuntu: containerd is pointed at /usr/lib/cni, where the
    # distribution's go; a cni_bin_dir from data is the user's to fill.
    plugins = [] if platform.family == "rhel" or runtime.containerd_cni_bin_dir else [
        "containernetworking-plugins"]
    added = ([runtime.containerd_rpm_repo],) if platform.family == "rhel" and \
        runtime.containerd_rpm_repo else ()
    refusal = sources_error(host.get_fact(PackageSources, packages=[
        runtime.package_name(platform.family), *plugins]), "runtime", "ready", added)
    if refusal:
        refuse(refusal)
        return
    if platform.family == "rhel":
        if runtime.containerd_rpm_repo:
            # dnf imports the key named in the repository file on the first install from it.
            dnf.repo(
                name="Add the containerd.io repository",
                src="docker-ce-stable",
                description="Docker CE Stable - $basearch (containerd.io, for kubeprep)",
                baseurl=runtime.containerd_rpm_repo,
                gpgcheck=runtime.containerd_rpm_gpg_key is not None,
                gpgkey=runtime.containerd_rpm_gpg_key,
            )
        dnf.packages(name="Install containerd", packages=[package])
    else:
        apt.packages(
            name="Install containerd", packages=[package, *plugins], update=True,
            cache_time=86400,
        )
    containerd.configured(
        name="containerd configured for the kubelet, running and enabled",
        cgroup_driver=runtime.cgroup_driver,
        sandbox_image=runtime.containerd_sandbox_image,
        cni_bin_dir=runtime.cni_bin_dir_for(platform.family),
        registry_mirrors={
            registry: list(urls) for registry, urls in runtime.containerd_registry_mirrors
        },
        planned_version=runtime.containerd_version,
        registry_ca=runtime.containerd_registry_ca,
    )
