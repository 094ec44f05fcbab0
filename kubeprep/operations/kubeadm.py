"""
Create and join a kubeadm cluster: init on the first control plane, fresh join credentials read
there during the run, joins on the other nodes, the admin kubeconfig, the CNI.
"""

from __future__ import annotations

import posixpath
from weakref import WeakKeyDictionary

from pyinfra import host, logger, state
from pyinfra.api import (
    FileUploadCommand,
    FunctionCommand,
    OperationValueError,
    StringCommand,
    operation,
)
from pyinfra.api.command import QuoteString
from pyinfra.api.host import Host
from pyinfra.api.state import State

from kubeprep.containerd import SOCKET
from kubeprep.facts.kubernetes import (
    ADMIN_CONF,
    CLUSTER_RULES,
    KUBECTL_PAUSE,
    KUBECTL_TRIES,
    KUBELET_CONF,
    CertificateExpiry,
    ClusterLeftovers,
    ClusterNodes,
    DaemonSet,
    KubeadmNode,
)
from kubeprep.fleet.remote import run_on
from kubeprep.kubeadm import (
    CNI_MANIFESTS,
    STATIC_PODS,
    JoinCredentials,
    join_config,
    parse_certificate_key,
    parse_join_command,
)
from kubeprep.node_files import ETCD_DATA_DIR, KUBEADM_LEFTOVERS

CNI_FILE = "/etc/kubernetes/kubeprep-cni.yaml"
CRICTL = f"crictl --runtime-endpoint unix://{SOCKET}"
KUBECTL = f"kubectl --kubeconfig={ADMIN_CONF}"  # as the cluster's admin, on a control plane
# How long a static pod may take to run (and the API server to answer) again after its restart:
# kubeadm waits 4 minutes for a control plane at init; slow machines take longer.
RESTART_SECONDS = 600
# kubeadm init's phases after the control plane answers, in its order: run again where an init
# stopped among them (its addon phase makes kube-proxy's DaemonSet last).
FINAL_PHASES = (
    "upload-config all", "mark-control-plane", "bootstrap-token --skip-token-print",
    "kubelet-finalize all", "addon all",
)
KUBE_PROXY = ("kube-system", "kube-proxy")
# What a control plane's running etcd writes: a cluster's data, which kubeprep never resets.
ETCD_MEMBER = f"{ETCD_DATA_DIR}/member"
API_SERVER_MANIFEST = KUBEADM_LEFTOVERS["control_plane"][0]
# A join token lives long enough for every node of one run to join, and no longer.
TOKEN_TTL = "1h"
# Shown by --dry, where the first control plane has not been asked yet.
PLACEHOLDER = JoinCredentials(
    "<endpoint>", "<token from the first control plane>", "<CA hash from the first control plane>",
    "<certificate key from the first control plane>",
)

# Join credentials made on the first control plane during the run, for the nodes joining after.
_credentials: WeakKeyDictionary[State, JoinCredentials] = WeakKeyDictionary()
# The nodes the first control plane drained and deleted during the run, for their reset after.
_removed: WeakKeyDictionary[State, set[str]] = WeakKeyDictionary()


@operation()
def init(config: str, upload_certs: bool = False):
    """
    Run ``kubeadm init`` with a config file where ``/etc/kubernetes/admin.conf`` is absent; where
    an init stopped after writing it (no kube-proxy DaemonSet yet: its addon phase, kubeadm's
    last, did not run), run its phases from the upload of its config on again. What an init cut
    before its control plane started left (static pod manifests, or admin.conf, without etcd's
    data) is reset first; etcd's data without admin.conf stops the host with the fix.

    + config: the kubeadm config file on the host
    + upload_certs: store the control-plane certificates in the cluster, for further control
      planes to join

    **Example:**

    .. code:: python

        kubeadm.init(
            name="kubeadm init",
            config="/etc/kubernetes/kubeadm-config.yaml",
        )
    """
    if ADMIN_CONF in host.get_fact(KubeadmNode, user="root")["files"]:
        yield from _finish_init(config, upload_certs)
        return
    yield _after_a_cut_init(config)
    yield _init_command(config, upload_certs)


def _init_command(config: str, upload_certs: bool) -> StringCommand:
    # kubeadm prints its own 24 h token (and the certificate key) for a join by hand: kept out
    # of pyinfra's output, where -vvv shows what commands print.
    return StringCommand(
        "kubeadm init --config", QuoteString(config), *(["--upload-certs"] if upload_certs else []),
        "--skip-token-print --skip-certificate-key-print",
    )


def _after_a_cut_init(config: str) -> StringCommand:
    """Before an init where admin.conf is absent: etcd's data stops the host with the fix (it
    may be a live cluster's control plane); static pod manifests without it (an init or a reset
    cut short) are reset."""
    fix = (f"kubeprep: {host.name} holds etcd's data ({ETCD_MEMBER}) but no {ADMIN_CONF}: it may "
           "be the control plane of a live cluster, which kubeprep never resets. Fix: if it is, "
           f"write admin.conf again (kubeadm init phase kubeconfig admin --config {config}) and "
           f"run kubeprep again; if it is not (an init cut short), run 'kubeadm reset -f' on "
           f"{host.name} and run kubeprep again")
    manifests = " || ".join(f"[ -e {path} ]" for path in KUBEADM_LEFTOVERS["control_plane"][:4])
    note = (f"kubeprep: {host.name} holds static pod manifests of an earlier kubeadm init, without "
            "etcd's data: kubeadm reset -f, then the init")
    return StringCommand(
        f"if [ -e {ETCD_MEMBER} ]; then echo", QuoteString(fix), ">&2; exit 1; fi;",
        f"if {manifests}; then echo", QuoteString(note), ">&2; kubeadm reset -f; fi",
    )


def _finish_init(config: str, upload_certs: bool):
    """Nothing where the init made kube-proxy's DaemonSet; its last phases again where not;
    without an answer from the API server, the whole init again where it was cut before the
    control plane started."""
    namespace, daemonset = KUBE_PROXY
    made = host.get_fact(DaemonSet, namespace=namespace, daemonset=daemonset)
    if made is None:
        yield FunctionCommand(_init_cut_or_no_answer, (config, upload_certs), {})
        return
    if made:
        host.noop(f"{ADMIN_CONF} and daemonset {namespace}/{daemonset} exist: "
                  "the cluster is initialised")
        return
    logger.warning(
        f"{host.print_prefix}kubeprep: {ADMIN_CONF} exists but daemonset "
        f"{namespace}/{daemonset} does not: an earlier kubeadm init stopped before its last "
        "phases; they run again.",
    )
    for phase in FINAL_PHASES:
        yield StringCommand("kubeadm init phase", phase, "--config", QuoteString(config))


@operation()
def admin_kubeconfig(user: str):
    """
    Copy ``/etc/kubernetes/admin.conf`` to the user's ``~/.kube/config``, mode 600.

    + user: the admin user

    **Example:**

    .. code:: python

        kubeadm.admin_kubeconfig(name="kubectl for kubeadmin", user="kubeadmin")
    """
    node = host.get_fact(KubeadmNode, user=user)
    # Before the account task's run the user is not there yet (--dry): useradd's defaults,
    # a home in /home and a group of its name, until the run reads the real ones.
    home, group = node["home"] or f"/home/{user}", node["group"] or user
    path = f"{home}/.kube/config"
    admin, copy = node["files"].get(ADMIN_CONF), node["files"].get(path)
    # Before init (--dry) admin.conf is not there yet: init makes it.
    if admin and copy == {"mode": "600", "owner": user, "sha256": admin["sha256"]}:
        host.noop(f"{path} is {ADMIN_CONF}, mode 600")
        return
    owner = _owner(user, group)
    yield StringCommand("install -d -m 700", *owner, QuoteString(f"{home}/.kube"))
    yield StringCommand("install -m 600", *owner, ADMIN_CONF, QuoteString(path))


def _owner(user: str, group: str) -> list[QuoteString]:
    return [QuoteString(f"--owner={user}"), QuoteString(f"--group={group}")]


@operation()
def renew_certificates(within_days: int, user: str):
    """
    Renew a control plane's kubeadm certificates once one has fewer than ``within_days`` left:
    ``kubeadm certs renew all``, then its static pods restarted one at a time (the container
    stopped, the kubelet starts it again with the new files; nothing is moved away that a cut
    run could leave out), each running again, the API server answering, before the next; and
    the admin's ``~/.kube/config`` copied again from the renewed admin.conf. CAs are not
    renewed (kubeadm renews none).

    + within_days: renew when a certificate has fewer days left than this
    + user: the admin user whose kubeconfig, where it exists, gets the renewed admin.conf

    **Example:**

    .. code:: python

        kubeadm.renew_certificates(
            name="Renew kubeadm's certificates", within_days=30, user="kubeadmin", _serial=True,
        )
    """
    days = {name: certificate["days_left"]
            for name, certificate in host.get_fact(CertificateExpiry).items()
            if not certificate["authority"]}
    if not days:
        host.noop("no kubeadm certificates read (no admin kubeconfig: not a control plane yet)")
        return
    first = min(days, key=lambda name: (days[name], name))
    if days[first] >= within_days:
        host.noop(f"every certificate has {within_days} days or more left "
                  f"({first}: {days[first]})")
        return
    yield "kubeadm certs renew all"
    for pod in STATIC_PODS.values():
        yield _restart(pod)
    node = host.get_fact(KubeadmNode, user=user)
    if node["home"] and node["group"]:
        path = QuoteString(f"{node['home']}/.kube/config")
        yield StringCommand("[ ! -f", path, "] || install -m 600", *_owner(user, node["group"]),
                            ADMIN_CONF, path)


def _restart(pod: str) -> StringCommand:
    """Stop ``pod``'s running container; wait until the kubelet runs a new one (and, for the
    API server, until it answers), or fail with the fix."""
    name = QuoteString(f"^{pod}$")
    answers = (f"{KUBECTL} get --raw=/readyz >/dev/null 2>&1"
               if pod == STATIC_PODS["apiServer"] else "true")
    fix = (f"kubeprep: {pod} on {host.name} did not run again within {RESTART_SECONDS} s of "
           f"its restart with the renewed certificates. Fix: read `{CRICTL} ps -a --name {pod}` "
           f"and its logs on {host.name}, correct the cause, run kubeprep again")
    return StringCommand(
        f"old=$({CRICTL} ps -q --state running --name", name, ");",
        f'[ -z "$old" ] || {CRICTL} stop --timeout 30 $old >/dev/null;',
        f"for i in $(seq {RESTART_SECONDS // 5}); do new=$({CRICTL} ps -q --state running",
        "--name", name, ');',
        f'[ -n "$new" ] && [ "$new" != "$old" ] && {answers} && exit 0; sleep 5; done;',
        "echo", QuoteString(fix), ">&2; exit 1",
    )


@operation()
def cni(cni: str, pod_cidr: str, manifest: str | None = None):
    """
    Apply a CNI's manifest once, with the pod network: nothing while its DaemonSet exists.

    An API server that does not answer whether it exists is an error, not a reason to apply.

    + cni: ``flannel``, ``calico`` or ``cilium``
    + pod_cidr: the pod network, written into manifests that carry their own (flannel)
    + manifest: an http(s) URL, or a local file uploaded; ``None``: the CNI's upstream manifest

    **Example:**

    .. code:: python

        kubeadm.cni(name="flannel", cni="flannel", pod_cidr="10.244.0.0/16")
    """
    if cni not in CNI_MANIFESTS:
        raise OperationValueError(f"unknown CNI {cni!r}: use one of {', '.join(CNI_MANIFESTS)}")
    preset = CNI_MANIFESTS[cni]
    source = manifest or preset.url
    if source is None:
        raise OperationValueError(f"{cni} needs a manifest")
    namespace, daemonset = preset.daemonset
    applied = yield from _has_daemonset(
        namespace, daemonset,
        "whether the CNI is applied is not known (it is not applied again blindly)")
    if applied is None:
        return
    if applied:
        host.noop(f"{cni} is applied (daemonset {namespace}/{daemonset} exists)")
        return
    if source.startswith(("http://", "https://")):
        yield StringCommand("curl -fsSL -o", CNI_FILE, QuoteString(source))
    else:
        yield FileUploadCommand(source, CNI_FILE, remote_temp_filename=host.get_temp_filename())
    if preset.default_network and preset.default_network != pod_cidr:
        yield StringCommand(
            "sed -i", QuoteString(f"s#{preset.default_network}#{pod_cidr}#g"), CNI_FILE,
        )
    yield StringCommand(KUBECTL, "apply -f", CNI_FILE)


def _has_daemonset(namespace: str, daemonset: str, unknown: str):
    """Whether the cluster has the DaemonSet (fact ``DaemonSet``); ``None``, after yielding the
    error that stops the host, when the API server did not answer (``unknown``: what that
    leaves unknown)."""
    found = host.get_fact(DaemonSet, namespace=namespace, daemonset=daemonset)
    if found is None:
        yield FunctionCommand(_no_answer, (
            f"-n {namespace} get daemonset {daemonset}", unknown), {})
    return found


def _init_cut_or_no_answer(state: State, host: Host, config: str, upload_certs: bool) -> bool:
    """The API server did not answer where admin.conf is: with neither its manifest nor etcd's
    data, an init cut after kubeadm's kubeconfig phase, reset and run again; else the host
    stops with the fix."""
    cut, _ = run_on(state, host, StringCommand(
        "[ ! -e", API_SERVER_MANIFEST, "] && [ ! -e", ETCD_MEMBER, "]"))
    if not cut:
        namespace, daemonset = KUBE_PROXY
        return _no_answer(state, host, f"-n {namespace} get daemonset {daemonset}",
                          "whether kubeadm init finished is not known")
    logger.warning(
        f"{host.print_prefix}kubeprep: {ADMIN_CONF} exists but neither {API_SERVER_MANIFEST} nor "
        f"{ETCD_MEMBER}: an earlier kubeadm init was cut before the control plane started; "
        "kubeadm reset -f, then kubeadm init again.",
    )
    ok, output = run_on(state, host, StringCommand(
        "kubeadm reset -f &&", _init_command(config, upload_certs)))
    if not ok:
        logger.error(
            f"{host.print_prefix}kubeprep: kubeadm init on {host.name} failed again: "
            f"{output.stderr.strip()[-2000:]}. Fix: correct the cause kubeadm names, then run "
            "kubeprep again.",
        )
    return ok


def _no_answer(state: State, host: Host, asked: str, unknown: str) -> bool:
    logger.error(
        f"{host.print_prefix}kubeprep: the API server did not answer `kubectl {asked}` on "
        f"{host.name} in {KUBECTL_TRIES} tries {KUBECTL_PAUSE} s apart, so {unknown}. "
        f"Fix: wait until `kubectl --kubeconfig={ADMIN_CONF} get nodes` answers on "
        f"{host.name}, then run kubeprep again.",
    )
    return False


def _create_credentials(state: State, host: Host, certificate_key: bool) -> bool:
    ok, output = run_on(state, host, StringCommand(
        "kubeadm token create --print-join-command --ttl", TOKEN_TTL, "2>&1",
    ))
    credentials = parse_join_command(output.output) if ok else None
    if credentials and certificate_key:
        ok, output = run_on(state, host, StringCommand(
            "kubeadm init phase upload-certs --upload-certs 2>&1",
        ))
        key = parse_certificate_key(output.output) if ok else None
        credentials = JoinCredentials(
            credentials.endpoint, credentials.token, credentials.ca_cert_hash, key,
        ) if key else None
    if credentials is None:
        said = output.output.strip()
        logger.error(
            f"{host.print_prefix}kubeprep: no join credentials: kubeadm said: {said}. "
            f"Fix: make the API server on {host.name} answer (`kubectl --kubeconfig={ADMIN_CONF} "
            "get nodes`), then run kubeprep again.",
        )
        return False
    _credentials[state] = credentials
    return True


@operation()
def join_credentials(first: str, pending: list[str], certificate_key: bool = False):
    """
    Create a fresh join token (and, for control planes, upload the certificates for a fresh
    certificate key) on the first control plane, at run time, for the nodes joining later in
    the same run (``kubeadm.join``). Call it for every node: it does nothing on the others, and
    nothing when no node is waiting to join.

    + first: the name of the first control plane, where the credentials are made
    + pending: the names of the nodes that will join in this run
    + certificate_key: also run ``kubeadm init phase upload-certs --upload-certs``

    **Example:**

    .. code:: python

        kubeadm.join_credentials(name="A fresh join token", first="cp1", pending=["w1"])
    """
    if host.name != first:
        host.noop(f"join credentials are made on {first}")
    elif not pending:
        host.noop("every node has joined")
    else:
        yield FunctionCommand(_create_credentials, (certificate_key,), {})


def first_failed(state: State, host: Host, first: str, problem: str, order: str) -> bool:
    """Fail ``host`` for what ``first`` did not do before it in the run."""
    logger.error(
        f"{host.print_prefix}kubeprep: {host.name} {problem} (see its error). Fix: correct "
        f"{first} and run kubeprep again, without --no-wait ({order}).",
    )
    return False


@operation()
def join(config: str, address: str, first: str, control_plane: bool = False,
         timeouts: dict[str, str] | None = None, patched: bool = False):
    """
    Run ``kubeadm join`` where ``/etc/kubernetes/kubelet.conf`` is absent, with the credentials
    ``kubeadm.join_credentials`` made earlier in the run; the config file carries them, readable
    by root alone, and is removed once kubeadm has run. What a join cut short left is reset
    first on a worker; a control plane stops with the fix (its etcd member may be in the
    cluster).

    + config: the kubeadm config file written on the host
    + address: the node's address on the cluster network (node IP, advertise address)
    + first: the name of the first control plane, for messages
    + control_plane: join as a further control plane
    + timeouts: kubeadm's v1beta4 ``timeouts``, e.g. ``{"tlsBootstrap": "10m"}``
    + patched: a control plane's static pods patched from ``kubeprep.kubeadm.PATCHES_DIR``

    **Example:**

    .. code:: python

        kubeadm.join(
            name="kubeadm join",
            config="/etc/kubernetes/kubeadm-config.yaml",
            address="192.168.77.21",
            first="cp1",
        )
    """
    if KUBELET_CONF in host.get_fact(KubeadmNode, user="root")["files"]:
        host.noop(f"{KUBELET_CONF} exists: {host.name} has joined")
        return
    credentials = _credentials.get(state) if state.is_executing else PLACEHOLDER
    if credentials is None:
        yield FunctionCommand(first_failed, (
            first, f"cannot join: {first} made no join credentials before it",
            "the token is made one operation before the joins"), {})
        return
    content = join_config(address, credentials, control_plane, tuple((timeouts or {}).items()),
                          patched)
    yield _after_a_cut_join(first, control_plane)
    # Before the join nothing may have made the config's folder (/etc/kubernetes): kubeadm's
    # packages do on some platforms, not all.
    yield StringCommand("install -d -m 755", QuoteString(posixpath.dirname(config)))
    yield FunctionCommand(_write_secret, (config, content), {})
    fix = (f"kubeprep: {host.name} did not join the cluster (kubeadm's message above). "
           f"Fix: on {host.name} run 'kubeadm reset -f', correct the cause, run kubeprep again")
    # The token and the certificate key stay on the node only until kubeadm has read them.
    yield StringCommand(
        "kubeadm join --config", QuoteString(config), "|| {", "rm -f", QuoteString(config), ";",
        "echo", QuoteString(fix), ">&2; exit 1; }",
    )
    yield StringCommand("rm -f", QuoteString(config))


def _after_a_cut_join(first: str, control_plane: bool) -> StringCommand:
    """What a join cut short left (a power cut after kubeadm's kubelet-start phase), which
    kubeadm's preflight refuses: reset on a worker; on a control plane, whose etcd member may
    already be in the cluster, a stop with the fix."""
    left = [path for path in KUBEADM_LEFTOVERS["workers"] if path != KUBELET_CONF]
    found = " || ".join(f"[ -e {path} ]" for path in left)
    if control_plane:
        fix = (f"kubeprep: {host.name} holds what an earlier kubeadm join left ({', '.join(left)}) "
               "and is a control plane, whose etcd member may already be in the cluster. Fix: on "
               f"{first}, list etcd's members (etcdctl member list, with the certificates in "
               f"/etc/kubernetes/pki/etcd) and remove {host.name}'s if it is listed; then on "
               f"{host.name} run 'kubeadm reset -f' and run kubeprep again")
        return StringCommand(f"if {found}; then echo", QuoteString(fix), ">&2; exit 1; fi")
    note = (f"kubeprep: {host.name} holds what an earlier kubeadm join left "
            f"({', '.join(left)}): kubeadm reset -f, then the join")
    return StringCommand(f"if {found}; then echo", QuoteString(note), ">&2;",
                         "kubeadm reset -f; fi")


def _write_secret(state: State, host: Host, path: str, content: str) -> bool:
    """Write ``path`` (a join config, with a token and a certificate key) from the command's
    input, under umask 077: only root can read it from its first byte (an upload is readable by
    others until its chmod), and its content is in no command line pyinfra shows or logs."""
    ok, output = run_on(state, host, StringCommand(
        "rm -f", QuoteString(path), "&& umask 077 && cat >", QuoteString(path),
    ), stdin=content)
    if not ok:
        logger.error(
            f"{host.print_prefix}kubeprep: could not write {path} on {host.name}: "
            f"{output.stderr.strip()}. Fix: make its folder writable for root, run kubeprep again.",
        )
    return ok


# How long a drain waits for the node's pods to be evicted (a PodDisruptionBudget that allows no
# eviction keeps it waiting), and how often it is tried, 20 s apart (an API server restarting
# under load cuts a drain short: seen on the lab's cp1 right after its upgrade).
DRAIN_TIMEOUT = "5m"
DRAIN_TRIES = 3
DRAIN_PAUSE = 20
# The PodDisruptionBudgets that allow no eviction, as namespace/name, for a drain's message.
NO_EVICTION = ("{range .items[?(@.status.disruptionsAllowed==0)]}{.metadata.namespace}/"
               "{.metadata.name} {end}")


@operation()
def remove_nodes(first: str | None, addresses: dict[str, str]):
    """
    Drain and delete nodes from the cluster, on the first control plane, with the admin
    kubeconfig: each node found by its address (the node's InternalIP, whatever its name in the
    cluster). Call it for every node, before their reset (``kubeadm.reset``): it does nothing on
    the others, nor for nodes no longer in the cluster.

    + first: the name of the first control plane, where the nodes are drained and deleted;
      ``None``: none remains (the cluster ends), nothing is drained
    + addresses: inventory name -> cluster address of each node to remove

    **Example:**

    .. code:: python

        kubeadm.remove_nodes(name="Nodes removed", first="cp1", addresses={"w2": "192.168.77.22"})
    """
    if first is None:
        host.noop("no control plane stays in the cluster: nothing is drained")
        return
    if host.name != first:
        host.noop(f"nodes are drained and deleted on {first}")
        return
    if not addresses:
        host.noop("no node to remove (kubernetes_removed_nodes is empty)")
        return
    nodes = host.get_fact(ClusterNodes)
    if nodes is None:
        yield FunctionCommand(_no_answer, (
            "get nodes", f"which of {', '.join(addresses)} are still in the cluster is not "
            "known (none is drained or reset)"), {})
        return
    names = {address: name for name, address in nodes.items()}
    present = {node: names[address] for node, address in addresses.items() if address in names}
    if not present:
        host.noop(f"no node of {', '.join(addresses)} is in the cluster")
        return
    for node, name in present.items():
        yield drain_command(name, (
            f"{name} ({node}) is left cordoned. Fix: relax that budget or give its workload room "
            f"on other nodes, then run kubeprep again; or keep {node}: `kubectl uncordon {name}` "
            "and take it out of kubernetes_removed_nodes"))
        yield StringCommand(KUBECTL, "delete node", QuoteString(name))
    yield FunctionCommand(_mark_removed, (list(present),), {})


def drain_command(name: str, left: str) -> StringCommand:
    """``kubectl drain`` of the cluster's node ``name`` (its DaemonSets' pods stay, emptyDir
    data goes), tried ``DRAIN_TRIES`` times ``DRAIN_PAUSE`` s apart; then why on standard
    error, ``left`` (what that leaves and the fix) and the budgets that allow no eviction."""
    why = (f"kubeprep: the drain of {name} stopped {DRAIN_TRIES} times (kubectl's messages above "
           f"say why: a pod not evicted within {DRAIN_TIMEOUT} each time, as when a "
           "PodDisruptionBudget allows no eviction, or an API server that did not answer). ")
    return retried(
        (f"{KUBECTL} drain", QuoteString(name),
         f"--ignore-daemonsets --delete-emptydir-data --timeout={DRAIN_TIMEOUT}"),
        DRAIN_TRIES, DRAIN_PAUSE,
        "echo", QuoteString(why + left), ">&2;",
        f"echo \"kubeprep: PodDisruptionBudgets that allow no eviction now: $({KUBECTL} "
        "get pdb -A -o", QuoteString(f"jsonpath={NO_EVICTION}"), '2>/dev/null)\" >&2;',
    )


def retried(attempt: tuple, tries: int, pause: int, *failed) -> StringCommand:
    """The shell command ``attempt`` (StringCommand's pieces) tried ``tries`` times ``pause`` s
    apart until it succeeds; after the last failure ``failed`` (pieces), then exit 1."""
    return StringCommand(
        f"for try in $(seq {tries}); do", *attempt, f"&& break; [ $try -ge {tries} ] && {{",
        *failed, f"exit 1; }}; sleep {pause}; done",
    )


def _mark_removed(state: State, host: Host, nodes: list[str]) -> bool:
    _removed.setdefault(state, set()).update(nodes)
    return True


@operation()
def reset(user: str, files: list[str], drained_on: str | None = None):
    """
    Take a node out of its cluster: ``kubeadm reset -f`` where kubeadm left files, then what
    reset leaves behind: the CNI's config files and interfaces, kube-proxy's and the CNI's
    iptables rules, the admin's ``~/.kube/config`` and ``files``.

    + user: the admin user, whose kubeconfig is removed
    + files: further files and folders of the cluster stage to remove (kubeprep's own)
    + drained_on: the first control plane, where ``kubeadm.remove_nodes`` drains and deletes
      the node earlier in the run; nothing is reset unless it did. ``None``: the node is not in
      the cluster (or no control plane stays)

    **Example:**

    .. code:: python

        kubeadm.reset(user="kubeadmin", files=["/etc/kubernetes/kubeadm-config.yaml"])
    """
    if drained_on and state.is_executing and host.name not in _removed.get(state, ()):
        yield FunctionCommand(first_failed, (
            drained_on, f"is not reset: {drained_on} did not drain and delete it from the "
            "cluster before it", "the drain is one operation before the reset"), {})
        return
    left = host.get_fact(ClusterLeftovers, user=user, files=files)
    if not any((left["kubeadm"], left["cni_config"], left["interfaces"],
                any(left["rules"].values()), left["files"])):
        host.noop("nothing of a cluster is left on the node")
        return
    if left["kubeadm"]:
        yield "kubeadm reset -f"
    if left["cni_config"]:
        yield StringCommand("rm -rf", *map(QuoteString, left["cni_config"]))
    for interface in left["interfaces"]:
        yield StringCommand("ip link delete", QuoteString(interface))
    # The other rules go back as they were, in one restore per table set (firewalld's own,
    # with its nftables backend, are in tables of their own, untouched).
    rules = " ".join(f"-e {name}" for name in CLUSTER_RULES)
    for command in [name for name, count in left["rules"].items() if count]:
        yield f"{command}-save | grep -v {rules} | {command}-restore"
    if left["files"]:
        yield StringCommand("rm -rf", *map(QuoteString, left["files"]))
