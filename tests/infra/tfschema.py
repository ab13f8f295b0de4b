"""Offline stand-in for `terraform validate`: check infra/ against the google provider's schema.

The google provider cannot be downloaded on these machines, so Terraform itself cannot tell us
that an attribute is misspelt or a required one is missing. This module parses every .tf file
with python-hcl2 and checks each `resource` and `data` block against the provider schema in
`../shared/reference/google-provider-6.50.0-schema.json` (the `terraform providers schema
-json` content for google 6.50.0): the type exists, every attribute and nested block exists,
computed-only attributes are not set, required attributes and blocks are present and
`max_items` is respected. It also checks the root `terraform` block (google pinned to a
version the schema describes, GCS backend).

    python -m tests.infra.tfschema infra      # prints every error, exits 1 on any
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hcl2
from hcl2.utils import SerializationOptions

REPO = Path(__file__).resolve().parents[2]
SCHEMA_PATH = REPO.parent / "shared" / "reference" / "google-provider-6.50.0-schema.json"
PROVIDER = "registry.terraform.io/hashicorp/google"
SCHEMA_VERSION = (6, 50, 0)
GOOGLE_SOURCES = {"hashicorp/google", PROVIDER}

# Handled by Terraform itself, not by the provider; `timeouts` is not here: where the provider
# supports it, the schema lists it as a block type, and where it does not, setting it is an error.
META_ARGUMENTS = {"count", "for_each", "depends_on", "provider", "lifecycle", "connection", "provisioner"}
LIFECYCLE_KEYS = {
    "create_before_destroy",
    "prevent_destroy",
    "ignore_changes",
    "replace_triggered_by",
    "precondition",
    "postcondition",
}
CONDITION_SCHEMA: dict[str, Any] = {"attributes": {"condition": {"required": True}, "error_message": {"required": True}}}
DYNAMIC_KEYS = {"for_each", "iterator", "labels", "content"}
# Explicit blocks: hcl2 marks every block body with __is_block__, which is how a block
# (`x { ... }`) is told apart from an object-valued attribute (`x = { ... }`).
_OPTIONS = SerializationOptions(strip_string_quotes=True, explicit_blocks=True, with_comments=False)

Schema = dict[str, Any]
Body = dict[str, Any]


@dataclass(frozen=True)
class ProviderSchema:
    """The resource and data-source schemas of one provider."""

    resources: dict[str, Schema]
    data_sources: dict[str, Schema]


@dataclass
class _Module:
    """What the checks need to know across the files of one directory."""

    declared_providers: dict[str, str] = field(default_factory=dict)  # local name -> source
    addresses: dict[str, str] = field(default_factory=dict)  # "dir:resource.type.name" -> file shown


def load_schema(path: Path = SCHEMA_PATH) -> ProviderSchema:
    """Read the google provider schema; accepts the bare per-provider form and the full
    `terraform providers schema -json` form (`provider_schemas` keyed by source)."""
    if not path.is_file():
        raise FileNotFoundError(f"provider schema not found at {path} (shared/ must sit beside the repository clone)")
    data = json.loads(path.read_text())
    if "provider_schemas" in data:
        data = data["provider_schemas"][PROVIDER]
    elif data.get("provider", PROVIDER) != PROVIDER:
        raise ValueError(f"{path} describes provider {data.get('provider')!r}, not {PROVIDER}")
    return ProviderSchema(resources=data["resource_schemas"], data_sources=data["data_source_schemas"])


def parse(text: str) -> dict[str, Any]:
    """Parse HCL text into python-hcl2's dict form (blocks as lists of dicts marked __is_block__)."""
    return hcl2.loads(text, serialization_options=_OPTIONS)


def tf_files(directory: Path) -> list[Path]:
    """Every .tf file under the directory, modules included, the .terraform cache excluded."""
    return sorted(p for p in directory.rglob("*.tf") if ".terraform" not in p.relative_to(directory).parts)


def check_directory(directory: Path, schema: ProviderSchema | None = None) -> list[str]:
    """All schema errors of the Terraform in `directory`, each prefixed with its file; [] when clean.

    File names are shown relative to the directory's parent (`infra/functions.tf`)."""
    schema = schema or load_schema()
    files = tf_files(directory)
    if not files:
        return [f"{directory.name}/: no .tf files"]
    parsed: list[tuple[str, Path, dict[str, Any]]] = []
    errors: list[str] = []
    for path in files:
        shown = path.relative_to(directory.parent).as_posix()
        try:
            parsed.append((shown, path, parse(path.read_text())))
        except Exception as exc:  # noqa: BLE001 — any parse failure is a finding, not a crash
            first_line = (str(exc).strip().splitlines() or [""])[0]
            errors.append(f"{shown}: cannot parse: {type(exc).__name__}: {first_line}")
    module = _Module()
    for _, _, doc in parsed:
        for terraform in _blocks(doc.get("terraform")):
            for providers in _blocks(terraform.get("required_providers")):
                for name, requirement in _attributes(providers):
                    source = requirement.get("source", f"hashicorp/{name}") if isinstance(requirement, dict) else ""
                    module.declared_providers[name] = source
    root_terraform = [t for shown, path, doc in parsed if path.parent == directory for t in _blocks(doc.get("terraform"))]
    errors += [f"{directory.name}/: {e}" for e in _check_terraform_blocks(root_terraform)]
    for shown, _, doc in parsed:
        errors += [f"{shown}: {e}" for e in _check_document(doc, shown, schema, module)]
    return errors


def _check_terraform_blocks(blocks: list[Body]) -> list[str]:
    """The root module pins google to a version the schema describes and stores state in GCS."""
    if not blocks:
        return ['no terraform block: required_version, required_providers.google (with a version) and backend "gcs" are needed']
    errors: list[str] = []
    if not any(b.get("required_version") for b in blocks):
        errors.append("terraform: required_version is not set")
    google = [
        req for b in blocks for rp in _blocks(b.get("required_providers")) for name, req in _attributes(rp) if name == "google"
    ]
    if not google:
        errors.append("terraform: required_providers has no google entry")
    for requirement in google:
        if not isinstance(requirement, dict):
            errors.append(
                'terraform: required_providers.google must be an object { source = "hashicorp/google", version = "..." }'
            )
            continue
        source = requirement.get("source", "hashicorp/google")
        if source not in GOOGLE_SOURCES:
            errors.append(f'terraform: required_providers.google.source is "{source}", expected "hashicorp/google"')
        version = requirement.get("version")
        if not version:
            errors.append('terraform: required_providers.google has no version constraint (pin it, e.g. "~> 6.50")')
        elif not isinstance(version, str) or not version_allows(version, SCHEMA_VERSION):
            errors.append(
                f'terraform: required_providers.google.version "{version}" does not admit '
                f"{'.'.join(map(str, SCHEMA_VERSION))}, the provider version this check validates against"
            )
    backends = [name for b in blocks for backend in _blocks(b.get("backend")) for name in _labels(backend)]
    if "gcs" not in backends:
        found = f" (found: {', '.join(backends)})" if backends else ""
        errors.append(f'terraform: no backend "gcs" block{found}')
    return errors


def _check_document(doc: dict[str, Any], shown: str, schema: ProviderSchema, module: _Module) -> Iterator[str]:
    for kind, schemas in (("resource", schema.resources), ("data", schema.data_sources)):
        for entry in _blocks(doc.get(kind)):
            for type_name, by_name in _attributes(entry):
                for name, body in _attributes(by_name):
                    address = f"{type_name}.{name}" if kind == "resource" else f"data.{type_name}.{name}"
                    key = f"{shown.rpartition('/')[0]}:{kind}.{type_name}.{name}"  # addresses are per module (directory)
                    if key in module.addresses:
                        yield f"{address}: duplicate {kind} block (first in {module.addresses[key]})"
                        continue
                    module.addresses[key] = shown
                    yield from (f"{address}: {e}" for e in _check_top_block(kind, type_name, body, schemas, module))


def _check_top_block(kind: str, type_name: str, body: Body, schemas: dict[str, Schema], module: _Module) -> Iterator[str]:
    """One `resource` or `data` block: its provider, its type, then its body."""
    what = "resource type" if kind == "resource" else "data source type"
    provider = _local_provider(type_name, body)
    if provider != "google":
        if provider not in module.declared_providers:
            yield f'{what} "{type_name}" belongs to provider "{provider}", which is not declared in required_providers'
        return  # another provider: its schema is not available here
    if type_name not in schemas:
        yield f'unknown {what} "{type_name}"{_suggest(type_name, schemas)}'
        return
    for lifecycle in _blocks(body.get("lifecycle")):
        for key, value in _attributes(lifecycle):
            if key not in LIFECYCLE_KEYS:
                yield f'lifecycle: unknown argument "{key}"{_suggest(key, LIFECYCLE_KEYS)}'
            elif key in ("precondition", "postcondition"):
                for condition in _blocks(value):
                    yield from _check_body(condition, CONDITION_SCHEMA, f"lifecycle: {key}: ")
    yield from _check_body(body, schemas[type_name]["block"], path="", top=True)


def _check_body(body: Body, block: Schema, path: str, top: bool = False) -> Iterator[str]:
    """Attributes and nested blocks of one block body against its schema, recursively."""
    attributes: dict[str, Schema] = block.get("attributes", {})
    block_types: dict[str, Schema] = block.get("block_types", {})
    known = list(attributes) + list(block_types)
    counts = {name: 0 for name in block_types}
    dynamic: set[str] = set()
    for key, value in body.items():
        if _internal(key) or (top and key in META_ARGUMENTS):
            continue
        if key == "dynamic" and key not in known:
            for dyn in _blocks(value):
                for name, spec in _attributes(dyn):
                    dynamic.add(name)
                    yield from _check_dynamic(name, spec, block_types, path)
        elif key in block_types:
            if not _is_block(value):
                yield f'{path}"{key}" is a nested block: write {key} {{ ... }}, not {key} = ...'
                continue
            nested = _blocks(value)
            counts[key] += len(nested)
            for item in nested:
                yield from _check_body(item, block_types[key]["block"], f"{path}{key}: ")
        elif key in attributes:
            spec = attributes[key]
            if _is_block(value):
                yield f'{path}"{key}" is an attribute: write {key} = ..., not {key} {{ ... }}'
            elif spec.get("computed") and not (spec.get("optional") or spec.get("required")):
                yield f'{path}computed-only attribute "{key}" cannot be set (the provider sets it)'
        else:
            noun = "nested block" if _is_block(value) else "attribute"
            yield f'{path}unknown {noun} "{key}"{_suggest(key, known)}'
    for name, spec in attributes.items():
        if spec.get("required") and name not in body:
            yield f'{path}missing required attribute "{name}"'
    for name, spec in block_types.items():
        if name in dynamic:
            continue  # a dynamic block's count is unknown until plan
        count = counts[name]
        least = spec.get("min_items", 0) or 0
        most = 1 if spec.get("nesting_mode") in ("single", "group") else spec.get("max_items", 0) or 0
        if count < least:
            yield f'{path}missing required block "{name}" (at least {least})'
        if most and count > most:
            yield f'{path}too many "{name}" blocks: {count} (at most {most})'


def _check_dynamic(name: str, spec: Body, block_types: dict[str, Schema], path: str) -> Iterator[str]:
    """`dynamic "x" { for_each = ...; content { ... } }`: x must be a block type, content must fit it."""
    if name not in block_types:
        yield f'{path}dynamic: unknown nested block "{name}"{_suggest(name, block_types)}'
        return
    for key in spec:
        if not _internal(key) and key not in DYNAMIC_KEYS:
            yield f'{path}dynamic "{name}": unknown argument "{key}"{_suggest(key, DYNAMIC_KEYS)}'
    if "for_each" not in spec:
        yield f'{path}dynamic "{name}": missing for_each'
    contents = _blocks(spec.get("content"))
    if len(contents) != 1:
        yield f'{path}dynamic "{name}": needs exactly one content block, found {len(contents)}'
    for content in contents:
        yield from _check_body(content, block_types[name]["block"], f"{path}{name}: ")


def version_allows(constraint: str, version: tuple[int, ...]) -> bool:
    """Whether a Terraform version constraint (`~> 6.50`, `>= 6.50, < 7`) admits `version`."""
    for part in constraint.split(","):
        match = re.fullmatch(r"\s*(~>|>=|<=|!=|=|>|<)?\s*v?(\d+(?:\.\d+){0,2})\s*", part)
        if not match:
            return False
        op, text = match.group(1) or "=", match.group(2)
        numbers = [int(n) for n in text.split(".")]
        bound = tuple(numbers + [0] * (3 - len(numbers)))
        if op == "~>":
            if len(numbers) == 1:
                upper: tuple[int, ...] = (numbers[0] + 1, 0, 0)
            else:  # ~> 6.50 allows 6.x >= 6.50; ~> 6.50.1 allows 6.50.x >= 6.50.1
                upper = tuple(numbers[:-2] + [numbers[-2] + 1] + [0] * (3 - len(numbers) + 1))
            ok = bound <= version < upper
        else:
            ok = {
                "=": version == bound,
                "!=": version != bound,
                ">": version > bound,
                ">=": version >= bound,
                "<": version < bound,
                "<=": version <= bound,
            }[op]
        if not ok:
            return False
    return True


def _local_provider(type_name: str, body: Body) -> str:
    """The provider local name: the `provider` meta-argument (`google-beta.eu` -> google-beta) or the type's prefix."""
    explicit = body.get("provider")
    if isinstance(explicit, str):
        return explicit.removeprefix("${").removesuffix("}").split(".")[0]
    return type_name.split("_", 1)[0]


def _suggest(word: str, candidates: Iterable[str]) -> str:
    """` (did you mean x?)` for the closest candidate, or '' when nothing is close."""
    options = sorted(candidates)
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    if not close:
        close = [c for c in options if c.startswith(word) or word.startswith(c)][:1]
    return f" (did you mean {close[0]}?)" if close else ""


def _internal(key: str) -> bool:
    return key.startswith("__") and key.endswith("__")


def _is_block(value: Any) -> bool:
    if isinstance(value, dict):
        return bool(value.get("__is_block__"))
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) and v.get("__is_block__") for v in value)


def _blocks(value: Any) -> list[Body]:
    """Bodies of the blocks under one key: python-hcl2 gives a list of dicts, one per block
    (for labelled blocks such as `resource "t" "n"` each dict is {label: {label: body}})."""
    if isinstance(value, dict):
        return [value]
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _labels(entry: Body) -> list[str]:
    return [k for k in entry if not _internal(k)]


def _attributes(body: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(body, dict):
        yield from ((k, v) for k, v in body.items() if not _internal(k))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("directory", type=Path, nargs="?", default=REPO / "infra")
    parser.add_argument("--schema", type=Path, default=SCHEMA_PATH)
    args = parser.parse_args(argv)
    errors = check_directory(args.directory.resolve(), load_schema(args.schema))
    for error in errors:
        print(error)
    if errors:
        print(f"{len(errors)} schema error(s)", file=sys.stderr)
        return 1
    print(f"ok: {len(tf_files(args.directory.resolve()))} .tf file(s) match google provider {'.'.join(map(str, SCHEMA_VERSION))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
