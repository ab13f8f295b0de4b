"""Scheduling configurations (SPEC §2.6): a host's own, or (admins) any host's of the workspace.

A configuration may only check calendars Google lists for the host (its connection's
synced calendar list, or ``primary``): an unknown id is a 422 ``unknown_calendar``, so a typo
never turns into "always free".
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from shared.domain.booking import valid_id
from shared.domain.scheduling import config_view, merge_patch, parse_config
from shared.domain.timezones import rfc3339_utc_or_none
from shared.errors import NotFound, Unprocessable
from shared.refusals import DoesNotExist

if TYPE_CHECKING:
    from shared.auth.principal import Principal
    from shared.clock import Clock
    from shared.domain.booking import BookingLimits
    from shared.domain.scheduling import SchedulingConfig
    from shared.ports import BookingLinkRepository, ConnectionRepository, SchedulingConfigRepository
    from shared.services.access import AccessPolicy, Member

GOOGLE = "google"
MAX_CONFIGS = 100  # per list answer (a host has a handful)
NOT_FOUND = "No scheduling configuration with this id is visible to you."
READ_ONLY = ("id", "host_uid", "created_at", "updated_at", "host")


def new_config_id() -> str:
    return "cfg_" + secrets.token_urlsafe(12)


def view(config: SchedulingConfig) -> dict[str, Any]:
    return {
        "id": config.id,
        "host_uid": config.host_uid,
        **config_view(config),
        "created_at": rfc3339_utc_or_none(config.created_at),
        "updated_at": rfc3339_utc_or_none(config.updated_at),
    }


def may_manage(member: Member, config: SchedulingConfig | None) -> SchedulingConfig:
    """The configuration if the member may see and change it (its host, or an admin of its workspace)."""
    if config is None or config.workspace_id != member.workspace_id or not (member.is_admin or config.host_uid == member.uid):
        raise NotFound(NOT_FOUND, code="config_not_found")
    return config


class SchedulingConfigs:
    def __init__(
        self,
        *,
        clock: Clock,
        access: AccessPolicy,
        configs: SchedulingConfigRepository,
        links: BookingLinkRepository,
        connections: ConnectionRepository,
        limits: BookingLimits,
    ):
        self._clock = clock
        self._access = access
        self._configs = configs
        self._links = links
        self._connections = connections
        self._limits = limits

    def create(self, principal: Principal, body: Mapping[str, Any]) -> dict[str, Any]:
        member = self._access.member(principal)
        host_uid = body.get("host_uid") if isinstance(body, Mapping) else None
        if host_uid is not None:
            host_uid = valid_id(host_uid, "host_uid")  # 400 when not an id
        host = self._access.host_for(member, host_uid)
        fields = {k: v for k, v in body.items() if k != "host_uid"}
        now = self._clock.now()
        config = parse_config(
            fields,
            config_id=new_config_id(),
            workspace_id=member.workspace_id,
            host_uid=host.uid,
            limits=self._limits,
            created_at=now,
            updated_at=now,
        )
        self._check_calendars(config)
        self._configs.add(config)
        return view(config)

    def list(self, principal: Principal, host_uid: str | None) -> dict[str, Any]:
        member = self._access.member(principal)
        host_uid = valid_id(host_uid, "host_uid") if host_uid else None
        if not member.is_admin:
            host_uid = self._access.host_for(member, host_uid).uid
        configs = self._configs.list(workspace_id=member.workspace_id, host_uid=host_uid, limit=MAX_CONFIGS)
        return {"scheduling_configs": [view(c) for c in configs]}

    def get(self, principal: Principal, config_id: str) -> dict[str, Any]:
        return view(self.managed(principal, config_id))

    def managed(self, principal: Principal, config_id: str) -> SchedulingConfig:
        return may_manage(self._access.member(principal), self._configs.get(config_id))

    def update(self, principal: Principal, config_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        current = self.managed(principal, config_id)
        if isinstance(body, Mapping):
            shown = view(current)  # a configuration read back may be sent back as it is
            for name in READ_ONLY:
                if name in body and body[name] != shown.get(name):
                    raise Unprocessable(f"{name} cannot be changed.", code="read_only_field", details={"field": name})
            body = {k: v for k, v in body.items() if k not in READ_ONLY}
        changed = replace(merge_patch(current, body, limits=self._limits), updated_at=self._clock.now())
        if changed.calendar_ids != current.calendar_ids:
            self._check_calendars(changed)
        try:
            self._configs.replace(changed)
        except DoesNotExist:  # deleted meanwhile
            raise NotFound(NOT_FOUND, code="config_not_found") from None
        return view(changed)

    def delete(self, principal: Principal, config_id: str) -> None:
        """Its booking links are revoked (410); interviews already booked through it stay."""
        config = self.managed(principal, config_id)
        now = self._clock.now()
        for link in self._links.list(workspace_id=config.workspace_id, host_uid=None, config_id=config.id, limit=1000):
            if link.revoked_at is None:
                self._links.revoke(link.id, now)
        self._configs.delete(config.id)

    def _check_calendars(self, config: SchedulingConfig) -> None:
        from shared.services.access import same_email

        connection = self._connections.get(config.host_uid, GOOGLE)
        known = {c.id for c in connection.calendars} if connection is not None else set()
        account = connection.account_email if connection is not None else None
        for index, calendar_id in enumerate(config.calendar_ids):
            if calendar_id == "primary" or calendar_id in known or (account and same_email(calendar_id, account)):
                continue
            raise Unprocessable(
                "This calendar is not one of the host's synced Google calendars"
                + (" (connect Google and sync calendars first)." if connection is None else "."),
                code="unknown_calendar",
                details={"field": f"calendar_ids[{index}]", "calendar_id": calendar_id},
            )
