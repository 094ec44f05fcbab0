"""cluster: one kubeadm config file per node, ``kubeadm init`` on the first control plane, the
admin kubeconfig, the CNI, and every other node joined with credentials made in the same run;
nodes removed; a changed ``kubernetes_version`` upgraded by kubeadm, one node at a time.

pyinfra runs each operation on every host before the next one. It orders them by each host's
chain of operations, and by line only among those ready together, so every node shares the
operation that makes the join credentials on the first control plane, just before its join.
"""

from io import StringIO
from weakref import WeakKeyDictionary

from gevent.lock import Semaphore
from pyinfra import host, logger, state
from pyinfra.api import deploy
from pyinfra.api.host import Host
from pyinfra.api.state import State
from pyinfra.context import ctx_state
from pyinfra.operations import files

from kubeprep.containerd import image_registry, registry_server
from kubeprep.errors import DataError
from kubeprep.facts.kubernetes import KUBELET_CONF, ClusterNodes, ClusterVersions, KubeadmNode
from kubeprep.facts.network import CONNECT_SECONDS, TcpAnswers
from kubeprep.fleet.hosts import address_of, checked_host, cluster_addresses, refuse
from kubeprep.keys import deploy_defaults
from kubeprep.kubeadm import (
    DEFAULT_IMAGE_REPOSITORY,
    PATCHES_DIR,
    STATIC_PODS,
    UPGRADE_CONFIG,
    Kubernetes,
    control_plane_endpoint,
    init_config,
    probe_patches,
    upgrade_config,
    url_target,
)
from kubeprep.operations import kubeadm, upgrade
from kubeprep.operations import kubernetes as kubernetes_operations
from kubeprep.settings import Settings, cluster_error
from kubeprep.upgrade import UpgradePlan, plan_steps, upgrade_plan, upgrade_refused

# The cluster's upgrade left to do, read once per run on the first control plane. pyinfra's CLI
# prepares the hosts side by side (gevent): the others wait for the one reading it.
_plans: WeakKeyDictionary[State, UpgradePlan | None] = WeakKeyDictionary()
_plan_read = Semaphore()


def joined(node) -> bool:
    return KUBELET_CONF in node.get_fact(KubeadmNode, user="root")["files"]


@deploy("Kubernetes cluster", data_defaults=deploy_defaults())
def cluster() -> None:
    """
    ``kubeadm init`` on the first host of the ``control_plane`` group (with the CNI), every
    other node of the inventory joined, the removed ones reset, the cluster upgraded to
    ``kubernetes_version``, certificates renewed where due (``kubernetes_*`` and ``cni*`` keys
    of the host's data).

    **Example:**

    .. code:: python

        from kubeprep.deploys.cluster import cluster

        cluster(_sudo=True)
    """
    checked = checked_host()
    if not checked:
        return
    settings, platform = checked
    removed = {node for node in _nodes() if node.name in settings.kubernetes_removed_nodes}
    control_planes = [node for node in state.inventory.get_group("control_plane", [])
                      if node not in removed]
    first = control_planes[0] if control_planes else None
    plan = _upgrade_plan(settings, first, control_planes) if first else None
    problem = _removal_error(settings, first, host in removed) or _upgrade_error(plan, first)
    if not problem and host not in removed:
        problem = _cluster_error(settings, first) or (
            None if joined(host) else _registry_error(settings, host == first))
    if problem:
        refuse(problem)
        return
    address = address_of(host)
    if host == first:
        _init(settings, address, upload_certs=len(control_planes) > 1)
    # Every node has this operation too, made on the first control plane: the drains come
    # before the removed nodes' reset, in pyinfra's order (as the join credentials, below).
    kubeadm.remove_nodes(
        name="Nodes removed from the cluster", first=first and first.name,
        addresses={node.name: address_of(node) for node in removed},
    )
    if host in removed:
        kube = settings.kubernetes
        kubeadm.reset(
            name="kubeadm reset (in kubernetes_removed_nodes)", user=settings.admin_user,
            files=[kube.kubernetes_config_file, kubeadm.CNI_FILE, PATCHES_DIR, UPGRADE_CONFIG],
            drained_on=first.name if first and _in_cluster(first, address) else None,
        )
        return
    upgrading = bool(plan) and plan.takes_part(host.name, first.name)
    if upgrading:
        _upgrade_control_plane(settings, plan, first, [node.name for node in control_planes],
                               apt=platform.family == "debian")
    # Every node has this operation, made on the first control plane and a no-op elsewhere:
    # pyinfra orders operations by each host's chain of them (then by line), so a join, the
    # next operation of a joining node, runs after it on every host.
    pending = _not_joined(first, settings.kubernetes_removed_nodes) if host == first else []
    kubeadm.join_credentials(
        name="Fresh join credentials",
        first=first.name,
        pending=[node.name for node in pending],
        certificate_key=any(node in control_planes for node in pending),
    )
    if host != first:
        _join(settings, address, first, control_plane=host in control_planes)
    # After the joins: a node joining now gives the drained nodes' pods a place to go.
    if upgrading:
        _upgrade_nodes(plan, first, apt=platform.family == "debian")
    renewal_days = settings.kubernetes.kubernetes_certificate_renewal_days
    if host in control_planes and renewal_days:
        # One control plane at a time: never every API server restarting at once.
        kubeadm.renew_certificates(
            name="Renew kubeadm's certificates", within_days=renewal_days,
            user=settings.admin_user, _serial=True,
        )


def _cluster_error(settings: Settings, first: Host | None) -> DataError | None:
    """What refuses this node: no node addresses, no control plane, the pod network, no token."""
    nodes = cluster_addresses()
    if isinstance(nodes, DataError):
        return nodes
    if first is None:
        return DataError(
            f"{host.name}: the inventory has no control_plane host, so there is no cluster to "
            "create or join. Fix: list the first control plane under control_plane.",
        )
    # The pod network must hold a /24 per node of the whole fleet, known only here.
    problem = cluster_error(settings, len(nodes))
    if problem or host == first or first in state.activated_hosts or joined(host):
        return problem
    return DataError(
        f"{host.name}: cannot join: the first control plane {first.name} is not in this "
        f"run, so no join token can be made. Fix: run without --limit, or include "
        f"{first.name}.",
    )


def _registry_error(settings: Settings, first: bool) -> DataError | None:
    """A registry the node's init or join pulls from (kubeadm's images, the sandbox image) that
    answers neither itself nor through one of its mirrors: kubeadm would wait minutes, then fail."""
    kube, runtime = settings.kubernetes, settings.runtime
    mirrors = dict(runtime.containerd_registry_mirrors)
    pulled: dict[str, list[tuple[str, str]]] = {}
    for key, image, what in (
        ("kubernetes_image_repository",  # as one of the images kubeadm pulls from it
         f"{kube.kubernetes_image_repository or DEFAULT_IMAGE_REPOSITORY}/kube-proxy",
         "the control plane's images and kube-proxy"),
        ("containerd_sandbox_image", runtime.containerd_sandbox_image,
         "the pause image every pod starts from"),
    ):
        pulled.setdefault(image_registry(image), []).append((key, what))
    sources = {registry: [*mirrors.get(registry, mirrors.get("_default", ())),
                          registry_server(registry)] for registry in pulled}
    answers = host.get_fact(TcpAnswers, targets=sorted(
        {url_target(url) for urls in sources.values() for url in urls}))
    for registry, urls in sources.items():
        if any(answers.get(url_target(url)) for url in urls):
            continue
        keys = " or ".join(key for key, _ in pulled[registry])
        what = " and ".join(what for _, what in pulled[registry])
        tried = ", ".join(url_target(url) for url in urls)
        return DataError(
            f"{host.name}: the image registry {registry} does not answer from {host.name} (no "
            f"TCP connection to {tried} in {CONNECT_SECONDS} s), and kubeadm "
            f"{'init' if first else 'join'} pulls {what} from it. Fix: set "
            f"containerd_registry_mirrors = {{{registry!r}: ['https://<mirror>']}} to a mirror "
            f"this host reaches (or {keys}), or deploy_until = \"kubernetes\" to stop before the "
            "cluster.",
        )
    return None


def _init(settings: Settings, address: str | None, upload_certs: bool) -> None:
    """The first control plane's kubeadm config, ``kubeadm init``, the admin's kubectl, the CNI."""
    kube = settings.kubernetes
    endpoint = control_plane_endpoint(kube, address)
    _probe_patches(kube)
    files.put(
        name="kubeadm config file", src=StringIO(init_config(kube, address, endpoint)),
        dest=kube.kubernetes_config_file, mode="600",
    )
    kubeadm.init(
        name="kubeadm init", config=kube.kubernetes_config_file, upload_certs=upload_certs,
    )
    kubeadm.admin_kubeconfig(
        name=f"kubectl for {settings.admin_user}", user=settings.admin_user,
    )
    if kube.cni != "none":
        kubeadm.cni(
            name=f"CNI {kube.cni}", cni=kube.cni, pod_cidr=kube.cni_pod_cidr,
            manifest=kube.cni_manifest,
        )


def _probe_patches(kube: Kubernetes) -> None:
    """kubeadm's patch per static pod with probes in the data; the others' removed."""
    if not kube.kubernetes_control_plane_probes:
        return
    patches = probe_patches(kube.kubernetes_control_plane_probes)
    files.directory(name="kubeadm patches folder", path=PATCHES_DIR, mode="700")
    for pod in host.loop(STATIC_PODS.values()):
        name = f"{pod}+strategic.json"
        if name in patches:
            files.put(name=f"kubeadm patch: {pod}'s probes", src=StringIO(patches[name]),
                      dest=f"{PATCHES_DIR}/{name}", mode="600")
        else:
            files.file(name=f"no kubeadm patch for {pod}", path=f"{PATCHES_DIR}/{name}",
                       present=False)


def _nodes() -> list[Host]:
    """The inventory's nodes (hosts of the control_plane or workers group)."""
    return [node for node in state.inventory if set(node.groups) & {"control_plane", "workers"}]


def _not_joined(first: Host, removed: list[str]) -> list[Host]:
    """The nodes of this run besides ``first`` and the ``removed`` that have not joined the
    cluster yet."""
    return [node for node in state.activated_hosts
            if node != first and node in _nodes() and node.name not in removed
            and not joined(node)]


def _removal_error(settings: Settings, first: Host | None, removed: bool) -> DataError | None:
    """What refuses the removals, on every node: a name that is no node, every control plane
    listed without the switch; and a ``removed`` node's: the first control plane (where the
    drain runs) not in this run."""
    names = {node.name for node in _nodes()}
    listed = settings.kubernetes_removed_nodes
    unknown = [name for name in listed if name not in names]
    if unknown:
        return DataError(
            f"{host.name}: kubernetes_removed_nodes = {list(listed)!r}: {', '.join(unknown)} "
            "is not a node of the inventory (a control_plane or workers host), so it cannot be "
            "taken out of the cluster. Fix: list nodes by their inventory names.",
        )
    planes = state.inventory.get_group("control_plane", [])
    if planes and first is None and not settings.kubernetes_remove_last_control_plane:
        return DataError(
            f"{host.name}: kubernetes_removed_nodes = {list(listed)!r} holds every control "
            "plane: their reset ends the cluster and deletes its etcd data. Fix: keep one out "
            "of the list, or set kubernetes_remove_last_control_plane = True to end the "
            "cluster.",
        )
    if not removed or first is None or first in state.activated_hosts:
        return None
    return DataError(
        f"{host.name}: cannot be removed: the first control plane {first.name} is not in this "
        f"run, so {host.name} cannot be drained and deleted from the cluster before its reset. "
        f"Fix: run without --limit, or include {first.name}.",
    )


def _in_cluster(first: Host, address: str | None) -> bool:
    """Whether the cluster has a node at ``address`` (or may have: its API server did not
    answer), as ``first`` reads its nodes."""
    nodes = first.get_fact(ClusterNodes)
    return nodes is None or address in nodes.values()


def _join(settings: Settings, address: str | None, first: Host, control_plane: bool) -> None:
    """``kubeadm join`` to ``first``'s cluster, and the admin's kubectl on a ``control_plane``."""
    kube = settings.kubernetes
    if control_plane:
        _probe_patches(kube)
    kubeadm.join(
        name="kubeadm join", config=kube.kubernetes_config_file, address=address,
        first=first.name, control_plane=control_plane,
        timeouts=dict(kube.kubernetes_timeouts),
        patched=control_plane and bool(kube.kubernetes_control_plane_probes),
    )
    if control_plane:
        kubeadm.admin_kubeconfig(
            name=f"kubectl for {settings.admin_user}", user=settings.admin_user,
        )


def _upgrade_plan(settings: Settings, first: Host,
                  control_planes: list[Host]) -> UpgradePlan | None:
    """The upgrade to ``kubernetes_version`` left to do on this run's nodes, as ``first``
    reads the cluster (once per run); ``None`` before init, with ``first`` out of this run, or
    when its API server did not answer."""
    current = ctx_state.get()
    with _plan_read:
        if current not in _plans:
            _plans[current] = _read_plan(settings, first, control_planes)
    return _plans[current]


def _read_plan(settings: Settings, first: Host,
               control_planes: list[Host]) -> UpgradePlan | None:
    if first not in state.activated_hosts:
        return None
    cluster = first.get_fact(ClusterVersions)  # before init: no version, no node
    if cluster is None:
        logger.warning(
            f"{first.print_prefix}kubeprep: the API server did not answer `kubectl get nodes` "
            f"on {first.name}, so whether the cluster needs kubeadm's upgrade is not known: "
            "nothing is upgraded in this run.",
        )
        return None
    order = [*control_planes, *(node for node in _nodes() if node not in control_planes
                                and node.name not in settings.kubernetes_removed_nodes)]
    order = [node for node in order if node in state.activated_hosts]
    plan = upgrade_plan(settings.kubernetes.kubernetes_version, cluster,
                        {node.name: address_of(node) for node in order},
                        [node.name for node in order])
    for name in plan.cordoned:
        logger.warning(
            f"{first.print_prefix}kubeprep: {name} is at {plan.version} and cordoned: pods are "
            f"not scheduled on it. Fix: `kubectl uncordon {name}` if an upgrade left it so.",
        )
    if plan.busy and not upgrade_refused(plan):
        logger.info(
            f"{first.print_prefix}kubeprep: upgrade to {plan.version} (the cluster is at "
            f"{plan.cluster}), one node at a time:"
            + "".join(f"\n    {step}" for step in plan_steps(plan, first.name)),
        )
    return plan


def _upgrade_error(plan: UpgradePlan | None, first: Host | None) -> DataError | None:
    """Why this node's cluster cannot be upgraded to the data's version (a downgrade, a skipped
    minor), on every node taking part in the upgrade."""
    if not plan or not first or not plan.takes_part(host.name, first.name):
        return None
    refused = upgrade_refused(plan)
    return DataError(
        f"{host.name}: kubernetes_version = {plan.version!r}: {refused}. Fix: set "
        f"kubernetes_version to the cluster's version ({plan.cluster}) or its next minor.",
    ) if refused else None


def _upgrade_control_plane(settings: Settings, plan: UpgradePlan, first: Host,
                           control_planes: list[str], apt: bool) -> None:
    """On every node taking part, kubeadm's upgrade config and kubeadm upgraded; then ``kubeadm
    upgrade apply`` on ``first`` (``kubeprep.operations.upgrade``), before any join of the run:
    a node joins the upgraded control plane."""
    kube, version = settings.kubernetes, plan.version
    files.put(
        name="kubeadm upgrade config", src=StringIO(upgrade_config(
            kube.kubernetes_timeouts, patched=host.name in control_planes
            and bool(kube.kubernetes_control_plane_probes))),
        dest=UPGRADE_CONFIG, mode="600",
    )
    kubernetes_operations.packages(
        name=f"kubeadm {version}, held (the upgrade's first step)", version=version, apt=apt,
        names=("kubeadm",),
    )
    if host == first and plan.apply:
        upgrade.apply(
            name=f"kubeadm upgrade apply {version} (the cluster is at {plan.cluster}), after an "
                 "etcd snapshot",
            cluster=plan.cluster, snapshot_dir=kube.kubernetes_etcd_snapshot_dir,
        )


def _upgrade_nodes(plan: UpgradePlan, first: Host, apt: bool) -> None:
    """Each node of the plan in turn, on every node taking part: drained, upgraded, uncordoned
    (``kubeprep.operations.upgrade``)."""
    version = plan.version
    for name, in_cluster in host.loop(plan.nodes):
        upgrade.drain(name=f"Drain {name} for {version}", first=first.name, node=name,
                      in_cluster=in_cluster, version=version)
        upgrade.node(name=f"Upgrade {name} to {version}", node=name, first=first.name,
                     version=version, apt=apt)
        upgrade.uncordon(name=f"Uncordon {name}, Ready at {version}", first=first.name,
                         node=name, in_cluster=in_cluster)
