"""Access decisions on pycasbin: allow, deny or approval_required, never a silent allow.

Reads: the caller's user id and identity roles, the tenant (project) of the route, the
method and the canonical path (``gateway.paths.canonical_path``); this module applies the
policy's own rules on top (trailing slash stripped, lower case). Writes nothing.
Denies: when a deny rule matches (deny wins over everything), when no rule allows (default
deny), and answers approval_required when an approval rule matches and no deny does.
Raises PolicyError, which the caller must turn into a 503, when no policy is loaded or
evaluation fails: there is no fail-open path.

Every decision carries the matched rule (Casbin's ``enforce_ex``) and the policy version,
a hash of the model and policy texts. ``reload`` validates a new policy completely before
swapping it in atomically; a refused policy leaves the running one in place.
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, NamedTuple

from gateway.paths import PathError, canonical_path
from policies.snapshot import Clock, Snapshot
from policies.subject import identity_claims

__all__ = [
    "DEFAULT_TENANT_PATTERNS",
    "AccessPolicy",
    "Decision",
    "Outcome",
    "PolicyError",
    "PolicyFiles",
    "canonical_for_policy",
    "default_policy_files",
    "identity_claims",
    "tenant_from_path",
]

Outcome = Literal["allow", "deny", "approval_required"]
DEFAULT_TENANT_PATTERNS = ("/api/projects/{project}", "/api/notes/{project}")
_PLACEHOLDER = re.compile(r"\{[a-z_]+\}")
_BAD_USER = re.compile(r"\*|role:.*|.*[\s,\"].*", re.DOTALL)
_DIR = Path(__file__).resolve().parent / "casbin"


class PolicyError(RuntimeError):
    """No usable policy, or evaluation failed: answer 503, never allow."""


@dataclass(frozen=True, slots=True)
class Decision:
    outcome: Outcome
    rule: tuple[str, ...]
    policy_version: str
    reason: str

    @property
    def allowed(self) -> bool:
        return self.outcome == "allow"


class PolicyFiles(NamedTuple):
    model: Path
    policy: Path
    grouping: Path | None = None


def default_policy_files() -> PolicyFiles:
    """The packaged default policy for the demo CRM routes."""
    return PolicyFiles(_DIR / "model.conf", _DIR / "policy.csv", _DIR / "grouping.csv")


def canonical_for_policy(path: str) -> str:
    """The canonical path with the policy's rules: no trailing slash, lower case."""
    canonical = canonical_path(path)
    if len(canonical) > 1:
        canonical = canonical.rstrip("/") or "/"
    return canonical.lower()


def tenant_from_path(path: str,
                     pattern: str | Sequence[str] = DEFAULT_TENANT_PATTERNS) -> str | None:
    """The tenant named by the first matching ``/prefix/{project}`` pattern, lower-cased."""
    for item in (pattern,) if isinstance(pattern, str) else pattern:
        parts = _PLACEHOLDER.split(item.rstrip("/"))
        if len(parts) != 2:
            raise ValueError(f"tenant pattern {item!r} needs exactly one {{placeholder}}")
        regex = re.escape(parts[0]) + "([^/]+)" + re.escape(parts[1]) + "(?:/|$)"
        match = re.match(regex, path, flags=re.IGNORECASE)
        if match is not None:
            return match.group(1).lower()
    return None


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"cannot read {path}: {exc}") from exc


class AccessPolicy:
    """Thread-safe access policy; ``reload`` swaps validated snapshots atomically."""

    def __init__(self, *, clock: Clock = time.time) -> None:
        self._clock = clock
        self._snapshot: Snapshot | None = None
        self._files: PolicyFiles | None = None
        self._lock = threading.Lock()
        self._ast_lock = threading.Lock()

    @classmethod
    def from_files(cls, model_path: str | Path, policy_path: str | Path,
                   grouping_path: str | Path | None = None, *,
                   clock: Clock = time.time) -> AccessPolicy:
        """Load a policy or raise PolicyError saying why it was refused."""
        policy = cls(clock=clock)
        ok, message = policy.reload(model_path, policy_path, grouping_path)
        if not ok:
            raise PolicyError(message)
        return policy

    @property
    def version(self) -> str:
        """The loaded policy's version, or "" when none is loaded."""
        snapshot = self._snapshot
        return snapshot.version if snapshot is not None else ""

    @property
    def files(self) -> PolicyFiles | None:
        return self._files

    def reload(self, model_path: str | Path | None = None, policy_path: str | Path | None = None,
               grouping_path: str | Path | None = None) -> tuple[bool, str]:
        """Load and validate a policy (missing paths: the current files); (ok, message)."""
        with self._lock:
            current, old = self._files, self.version or "none"
            model = model_path or (current.model if current else None)
            policy = policy_path or (current.policy if current else None)
            grouping = grouping_path or (current.grouping if current else None)
            if model is None or policy is None:
                return False, "refused: no model or policy file given"
            files = PolicyFiles(Path(model), Path(policy), Path(grouping) if grouping else None)
            try:
                snapshot = self._build(files)
            except Exception as exc:  # whatever fails, the new policy is refused
                return False, f"refused: {exc}; keeping policy {old}"
            self._snapshot, self._files = snapshot, files
            return True, f"loaded policy {snapshot.version} ({snapshot.size} rules), was {old}"

    def load_texts(self, model_text: str,
                   sources: Sequence[tuple[str, str]]) -> tuple[bool, str]:
        """Validate and swap in a policy given as texts (the shared database's copy).

        ``sources`` are (name, CSV text) pairs; the version is the same as for files with
        the same texts. The file paths are kept, so ``reload()`` still means the files.
        """
        with self._lock:
            old = self.version or "none"
            try:
                snapshot = self._build_texts(model_text, sources)
            except Exception as exc:  # whatever fails, the new policy is refused
                return False, f"refused: {exc}; keeping policy {old}"
            self._snapshot = snapshot
            return True, f"loaded policy {snapshot.version} ({snapshot.size} rules), was {old}"

    def _build(self, files: PolicyFiles) -> Snapshot:
        sources = [(files.policy.name, _read(files.policy))]
        if files.grouping is not None:
            sources.append((files.grouping.name, _read(files.grouping)))
        return self._build_texts(_read(files.model), sources)

    def _build_texts(self, model_text: str, sources: Sequence[tuple[str, str]]) -> Snapshot:
        digest = hashlib.sha256(model_text.encode())
        for _, text in sources:
            digest.update(b"\0" + text.encode())
        return Snapshot.build(model_text, sources, digest.hexdigest()[:16],
                              (self._clock, self._ast_lock))

    def _current(self) -> Snapshot:
        snapshot = self._snapshot
        if snapshot is None:
            raise PolicyError("no access policy is loaded")
        return snapshot

    def decide(self, user: str, roles: Iterable[str], tenant: str | None, method: str,
               path: str) -> Decision:
        """Decide one request; raise PolicyError (→ 503) if the policy cannot answer."""
        snapshot = self._current()
        roles = (roles,) if isinstance(roles, str) else tuple(roles)
        key = (user, roles, tenant, method, path)
        try:
            now = self._clock()
            remembered: Decision | None = snapshot.recall(key, now)
            if remembered is not None:
                return remembered
            decision = self._decide(snapshot, user, roles, (tenant or "").lower(),
                                    (method.upper(), path))
        except Exception as exc:  # any failure is a 503, never an allow
            raise PolicyError(f"policy evaluation failed: {exc!r}") from exc
        snapshot.remember(key, decision, now)
        return decision

    def evaluate(self, user: str, roles: Iterable[str], tenant: str | None, method: str,
                 path: str) -> Decision:
        """Like ``decide``, but always through Casbin (never a remembered decision)."""
        roles = (roles,) if isinstance(roles, str) else tuple(roles)
        try:
            return self._decide(self._current(), user, roles, (tenant or "").lower(),
                                (method.upper(), path))
        except Exception as exc:
            raise PolicyError(f"policy evaluation failed: {exc!r}") from exc

    @staticmethod
    def _decide(snapshot: Snapshot, user: str, roles: tuple[str, ...], tenant: str,
                request: tuple[str, str]) -> Decision:
        version = snapshot.version
        act, raw_path = request
        if _BAD_USER.fullmatch(user) or tenant == "*":
            return Decision("deny", (), version, "invalid user id or tenant")
        try:
            obj = canonical_for_policy(raw_path)
        except PathError as exc:
            return Decision("deny", (), version, f"path cannot be canonicalised: {exc}")
        subject = snapshot.roles.subject(user, roles, tenant)
        allowed, rule = snapshot.evaluate("p", subject, obj, act)
        if not allowed and rule:
            return Decision("deny", rule, version, f"denied by an explicit rule for {rule[1]}")
        needs_approval, approval = snapshot.evaluate("p3", subject, obj, act)
        if needs_approval:
            where = f"project {tenant}" if tenant else "this resource"
            return Decision("approval_required", approval, version,
                            f"approval required: ask an approver of {where} to approve "
                            f"{act} {obj}, then retry")
        if allowed:
            return Decision("allow", rule, version, "allowed")
        scope = f" in project {tenant}" if tenant else ""
        return Decision("deny", (), version, f"no rule allows {act} {obj}{scope} (default deny)")

    def may_unmask(self, user: str, roles: Iterable[str], tenant: str | None,
                   entity: str) -> bool:
        """May this caller see ``entity`` (CN_MOBILE, PERSON, ...) unmasked in ``tenant``?"""
        snapshot = self._current()
        try:
            if _BAD_USER.fullmatch(user):
                return False
            roles = (roles,) if isinstance(roles, str) else roles
            subject = snapshot.roles.subject(user, tuple(roles), (tenant or "").lower())
            return snapshot.evaluate("p2", subject, entity.upper())[0]
        except Exception as exc:  # any failure is a 503, never an unmask
            raise PolicyError(f"field-rights evaluation failed: {exc!r}") from exc

