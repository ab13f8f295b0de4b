"""Ties infra/ to the code: environment, secrets, callers and permissions of each function.

``tests.infra.code_contract`` derives from the source what each function reads; this
module reads infra/'s HCL (python-hcl2) and reports every disagreement as a sentence.
infra/ keeps one map, ``local.functions``, that states per function what the code needs
(env, secrets, public or internal caller, Firestore, Cloud Tasks); the resources iterate
over it. So checking that map against the code, and checking that the resources really
iterate over it (no extra grant anywhere else), covers the deployment.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shared import config
from tests.infra import code_contract

CALLER_ACCOUNTS = {"tasks": "google_service_account.tasks_invoker", "scheduler": "google_service_account.scheduler_invoker"}
# Roles that must only ever be granted on one resource (a secret, the queue, a service,
# an account), never on the whole project.
RESOURCE_LEVEL_ROLES = {
    "roles/secretmanager.secretAccessor",
    "roles/run.invoker",
    "roles/cloudfunctions.invoker",
    "roles/cloudtasks.enqueuer",
    "roles/iam.serviceAccountUser",
    "roles/iam.serviceAccountTokenCreator",
}
PUBLIC_MEMBERS = {"allUsers", "allAuthenticatedUsers"}
SECRET_REF = re.compile(r'^\$\{google_secret_manager_secret\.secret\["([a-z_]+)"\]\.secret_id\}$')


@dataclass(frozen=True)
class Infra:
    """infra/ parsed: merged locals and resources as (type, name, body, file)."""

    locals: dict[str, Any]
    resources: list[tuple[str, str, dict[str, Any], str]]


def load(infra_dir: Path) -> Infra:
    import hcl2
    from hcl2 import SerializationOptions

    options = SerializationOptions(strip_string_quotes=True, explicit_blocks=False)
    merged: dict[str, Any] = {}
    resources: list[tuple[str, str, dict[str, Any], str]] = []
    for path in sorted(infra_dir.glob("*.tf")):
        with path.open() as handle:
            document = hcl2.load(handle, serialization_options=options)
        for block in document.get("locals", []):
            merged.update(block)
        for block in document.get("resource", []):
            for kind, named in block.items():
                for name, body in named.items():
                    resources.append((kind, name, body, path.name))
    return Infra(merged, resources)


def _ref(account: str) -> str:
    return "${" + account + ".email}"


def _squash(text: Any) -> str:
    return re.sub(r"\s+", "", str(text))


def check(infra_dir: Path) -> list[str]:
    """Every way infra/ disagrees with the code, as readable sentences (empty: they agree)."""
    infra = load(infra_dir)
    errors: list[str] = []
    functions = infra.locals.get("functions")
    if not isinstance(functions, dict):
        return ["infra/: no `local.functions` map (one entry per folder of functions/)"]
    needs = code_contract.all_needs()
    if set(functions) != set(needs):
        errors.append(f"local.functions has {sorted(functions)}, functions/ has {sorted(needs)}")
    secrets = infra.locals.get("secrets", {})
    for name in sorted(set(functions) & set(needs)):
        errors += _check_function(name, functions[name], needs[name], functions, secrets)
    errors += _check_resources(infra, functions)
    return errors


def _check_function(
    name: str, spec: dict[str, Any], need: code_contract.FunctionNeeds, functions: dict[str, Any], secrets: dict[str, Any]
) -> list[str]:
    where = f"local.functions.{name}"
    errors: list[str] = []
    if spec.get("entry_point") != name:
        errors.append(f"{where}.entry_point must be {name!r} (the function's name in main.py), got {spec.get('entry_point')!r}")
    env: dict[str, Any] = spec.get("env") or {}
    for variable in sorted(env):
        if variable not in config.VARIABLES:
            errors.append(f"{where}.env sets {variable}, which shared/config.py does not know")
        elif variable in config.LOCAL_ONLY:
            errors.append(f"{where}.env sets {variable}, a local/test override that a deployment must not set")
        elif variable not in need.allowed_env:
            errors.append(f"{where}.env sets {variable}, which {name}'s code never reads")
    for variable in sorted(need.required_env - set(env)):
        errors.append(f"{where}.env lacks {variable}, which {name}'s code reads and has no production default")
    if not need.internal and "CONVENE_CORS_ORIGINS" not in env:
        errors.append(f"{where}.env lacks CONVENE_CORS_ORIGINS: front-ends call {name} from browsers")

    # Secrets: each secret variable names a declared secret, and exactly those are granted.
    granted = set(spec.get("secrets") or [])
    named: set[str] = set()
    for variable in sorted(need.secret_vars & set(env)):
        match = SECRET_REF.match(str(env[variable]))
        if not match:
            errors.append(
                f'{where}.env.{variable} must be google_secret_manager_secret.secret["<key>"].secret_id, got {env[variable]!r}'
            )
            continue
        key = match.group(1)
        named.add(key)
        if key not in secrets:
            errors.append(f"{where}.env.{variable} names secret {key!r}, which local.secrets does not declare")
        elif secrets[key] != config.VARIABLES[variable][0]:
            errors.append(
                f"local.secrets.{key} is {secrets[key]!r}, but the code's default for {variable} is "
                f"{config.VARIABLES[variable][0]!r}: keep one name"
            )
    if granted != named:
        extra, missing = sorted(granted - named), sorted(named - granted)
        errors.append(
            f"{where}.secrets must be exactly the secrets its code reads {sorted(named)}"
            + (f"; not read: {extra}" if extra else "")
            + (f"; not granted: {missing}" if missing else "")
        )

    # Who may call it.
    if spec.get("public") is need.internal:
        errors.append(
            f"{where}.public is {spec.get('public')}, but {name} "
            + (
                "accepts only Cloud Scheduler / Cloud Tasks OIDC tokens: it must not be public"
                if need.internal
                else "authenticates its own callers (ID tokens, guest links): it must be public"
            )
        )
    caller = spec.get("caller")
    invoker = spec.get("invoker")
    if need.internal:
        if caller not in CALLER_ACCOUNTS:
            errors.append(f"{where}.caller must be one of {sorted(CALLER_ACCOUNTS)}, got {caller!r}")
        else:
            account = CALLER_ACCOUNTS[caller]
            if invoker != "serviceAccount:" + _ref(account):
                errors.append(f"{where}.invoker must be serviceAccount:{_ref(account)} (its one caller), got {invoker!r}")
            if _squash(env.get("CONVENE_INTERNAL_INVOKERS")) != _ref(account):
                errors.append(f"{where}.env.CONVENE_INTERNAL_INVOKERS must be {_ref(account)}, the account its caller signs with")
        if _squash(env.get("CONVENE_INTERNAL_AUDIENCE")) != '${local.function_urls["' + name + '"]}':
            errors.append(
                f'{where}.env.CONVENE_INTERNAL_AUDIENCE must be local.function_urls["{name}"] (the audience its caller puts in the token)'
            )
    else:
        if caller is not None:
            errors.append(f"{where}.caller must be null for a public function, got {caller!r}")
        if invoker != "allUsers":
            errors.append(f"{where}.invoker must be allUsers (the function authenticates every call), got {invoker!r}")

    # What it touches.
    if bool(spec.get("firestore")) is not need.uses_firestore:
        errors.append(
            f"{where}.firestore is {spec.get('firestore')}, but the code "
            + ("uses" if need.uses_firestore else "never uses")
            + " Firestore"
        )
    if bool(spec.get("enqueues")) is not need.enqueues_tasks:
        errors.append(
            f"{where}.enqueues is {spec.get('enqueues')}, but the code "
            + ("creates" if need.enqueues_tasks else "never creates")
            + " Cloud Tasks"
        )
    if need.enqueues_tasks:
        if _squash(env.get("CONVENE_TASKS_SERVICE_ACCOUNT")) != _ref(CALLER_ACCOUNTS["tasks"]):
            errors.append(
                f"{where}.env.CONVENE_TASKS_SERVICE_ACCOUNT must be {_ref(CALLER_ACCOUNTS['tasks'])} (the worker's one invoker)"
            )
        targets = [k for k, f in functions.items() if isinstance(f, dict) and f.get("caller") == "tasks"]
        wanted = {'${local.function_urls["' + t + '"]}' for t in targets}
        if _squash(env.get("CONVENE_EMAIL_WORKER_URL")) not in wanted:
            errors.append(f"{where}.env.CONVENE_EMAIL_WORKER_URL must be the URL of the Cloud Tasks target {targets}")
    return errors


def _check_resources(infra: Infra, functions: dict[str, Any]) -> list[str]:
    errors: list[str] = []
    for kind, name, body, file in infra.resources:
        where = f"{file}: {kind}.{name}"
        role = str(body.get("role", ""))
        member = str(body.get("member", ""))
        members = [str(m) for m in body.get("members", []) or []] + ([member] if member else [])
        if re.match(r"google_(project|folder|organization)_iam_(member|binding|policy)$", kind) and role in RESOURCE_LEVEL_ROLES:
            errors.append(f"{where} grants {role} on the whole project: grant it on the one resource instead")
        if kind == "google_secret_manager_secret_version":
            errors.append(
                f"{where}: secret values never go into Terraform (state would hold them); use scripts/add-secret-versions.sh"
            )
        if kind.startswith("google_secret_manager_secret_iam") and _squash(body.get("for_each")) != "${local.secret_grants}":
            errors.append(f"{where}: secret grants must iterate local.secret_grants (derived from local.functions[*].secrets)")
        if kind.endswith(("_iam_member", "_iam_binding")) and role in ("roles/run.invoker", "roles/cloudfunctions.invoker"):
            if _squash(body.get("for_each")) != "${local.functions}" or member != "${each.value.invoker}":
                errors.append(f"{where}: invoker grants must iterate local.functions with member = each.value.invoker")
        elif any(m in PUBLIC_MEMBERS for m in members):
            errors.append(f"{where} grants {role or 'access'} to {', '.join(m for m in members if m in PUBLIC_MEMBERS)}")
        if kind.endswith("_iam_policy"):
            errors.append(f"{where}: an authoritative IAM policy replaces grants made elsewhere; use _iam_member")
    scheduled = [k for k, f in functions.items() if isinstance(f, dict) and f.get("caller") == "scheduler"]
    jobs = [(name, body, file) for kind, name, body, file in infra.resources if kind == "google_cloud_scheduler_job"]
    for function in scheduled:
        url = '${local.function_urls["' + function + '"]}'
        found = [j for j in jobs if _squash(_first(j[1].get("http_target")).get("uri")) == url]
        if not found:
            errors.append(f'no google_cloud_scheduler_job calls {function} (http_target.uri = local.function_urls["{function}"])')
        for name, body, file in found:
            token = _first(_first(body.get("http_target")).get("oidc_token"))
            if _squash(token.get("audience")) != url:
                errors.append(f"{file}: google_cloud_scheduler_job.{name}: oidc_token.audience must be {url}")
            if _squash(token.get("service_account_email")) != _ref(CALLER_ACCOUNTS["scheduler"]):
                errors.append(
                    f"{file}: google_cloud_scheduler_job.{name}: oidc_token.service_account_email must be {_ref(CALLER_ACCOUNTS['scheduler'])}"
                )
    errors += _check_queue(infra)
    return errors


def _check_queue(infra: Infra) -> list[str]:
    """The email queue's retry policy is the one the local stack (and the tests) give theirs."""
    from devstack.stack import EMAIL_QUEUE, queue_retry_config

    queues = [(name, body, file) for kind, name, body, file in infra.resources if kind == "google_cloud_tasks_queue"]
    named = [q for q in queues if q[1].get("name") == EMAIL_QUEUE]
    if not named:
        return [f"no google_cloud_tasks_queue named {EMAIL_QUEUE!r} (CONVENE_EMAIL_QUEUE's default)"]
    errors = []
    for name, body, file in named:
        retry = _first(body.get("retry_config"))
        for key, value in queue_retry_config().items():
            if str(retry.get(key)) != str(value):
                errors.append(
                    f"{file}: google_cloud_tasks_queue.{name}: retry_config.{key} is {retry.get(key)!r}, the code expects {value!r}"
                )
    return errors


def _first(value: Any) -> dict[str, Any]:
    """A nested block as one dict (python-hcl2 gives blocks as lists)."""
    if isinstance(value, list):
        return value[0] if value and isinstance(value[0], dict) else {}
    return value if isinstance(value, dict) else {}


if __name__ == "__main__":  # python -m tests.infra.wiring [infra_dir]
    import sys

    problems = check(Path(sys.argv[1]) if len(sys.argv) > 1 else code_contract.ROOT / "infra")
    print("\n".join(problems) or "infra/ agrees with the code")
    sys.exit(1 if problems else 0)
