"""Routing rules: pure matching semantics, then the service on real PostgreSQL (CRUD, order, audit,
validation, scopes, preview without writes, isolation between tenants)."""

from __future__ import annotations

import asyncio
import dataclasses
import string
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st

from lapor.platform.errors import DomainError
from lapor.tenants.actors import ALL_STAFF_SCOPES, staff
from lapor.tenants.context import tenant_transaction
from lapor.tenants.enums import Channel, ComplaintKind, Priority, RoutingAction
from lapor.tenants.routing import service
from lapor.tenants.routing.matching import ComplaintFacts, RuleSpec, first_match, matches, region_within
from lapor.tenants.routing.service import RuleInput, RulePatch
from lapor.tenants.tables import audit_event, category, routing_rule, unit

# ---------------------------------------------------------------------------------------------
# Pure matching


def rule(position: int = 1, **fields: Any) -> RuleSpec:
    defaults: dict[str, Any] = {
        "id": position,
        "name": f"rule {position}",
        "action": RoutingAction.SET_PRIORITY,
        "priority": Priority.HIGH,
    }
    defaults.update(fields)
    return RuleSpec(position=position, **defaults)


def facts(**fields: Any) -> ComplaintFacts:
    defaults: dict[str, Any] = {
        "kind": ComplaintKind.COMPLAINT,
        "channel": Channel.WEB,
        "category_id": 7,
        "title": "Lampu jalan mati",
        "body": "Sudah dua minggu lampu di depan pasar tidak menyala.",
        "region_code": "53.71.01",
    }
    defaults.update(fields)
    return ComplaintFacts(**defaults)


def test_a_rule_without_conditions_matches_everything() -> None:
    catch_all = rule()
    assert not catch_all.has_conditions
    assert matches(catch_all, facts())
    assert matches(catch_all, facts(category_id=None, region_code=None, title="", body=""))


def test_kinds_any_of_the_list() -> None:
    r = rule(kinds=(ComplaintKind.ASPIRATION, ComplaintKind.INFORMATION_REQUEST))
    assert not matches(r, facts(kind=ComplaintKind.COMPLAINT))
    assert matches(r, facts(kind=ComplaintKind.ASPIRATION))
    assert matches(r, facts(kind="INFORMATION_REQUEST")), "string values work as well as members"


def test_channels_any_of_the_list() -> None:
    r = rule(channels=(Channel.SMS, Channel.WHATSAPP))
    assert matches(r, facts(channel=Channel.WHATSAPP))
    assert not matches(r, facts(channel=Channel.WEB))


def test_categories_any_of_the_list_and_none_never_matches() -> None:
    r = rule(category_ids=(3, 7))
    assert matches(r, facts(category_id=7))
    assert not matches(r, facts(category_id=4))
    assert not matches(r, facts(category_id=None))


@pytest.mark.parametrize(
    ("prefix", "code", "expected"),
    [
        ("53", "53", True),
        ("53", "53.71", True),
        ("53", "53.71.01", True),
        ("53", "53.71.01.1001", True),
        ("53.71", "53.71", True),
        ("53.71", "53.71.01", True),
        ("53.71", "53", False),
        ("53.71", "53.710", False),
        ("53.7", "53.71", False),
        ("53", "530", False),
        ("53", "35.71", False),
        ("53.71", " 53.71.02 ", True),
        ("53", None, False),
        ("53", "", False),
    ],
)
def test_region_prefixes_compare_whole_segments(prefix: str, code: str | None, expected: bool) -> None:
    assert region_within(code, prefix) is expected
    assert matches(rule(region_prefixes=(prefix,)), facts(region_code=code)) is expected


def test_region_prefixes_any_of_the_list() -> None:
    r = rule(region_prefixes=("61", "53.71"))
    assert matches(r, facts(region_code="61.08"))
    assert matches(r, facts(region_code="53.71.03"))
    assert not matches(r, facts(region_code="53.04"))


@pytest.mark.parametrize(
    ("keyword", "title", "body", "expected"),
    [
        ("lampu", "Lampu jalan mati", "", True),
        ("LAMPU", "lampu jalan mati", "", True),
        ("menyala", "", "Lampu tidak menyala.", True),
        ("jalan", "Jalanan berlubang", "", False),
        ("jalan", "", "Kesehatannya memburuk karena jalanan", False),
        ("kesehatan", "Kesehatannya memburuk", "", False),
        ("rusak", "Jalan rusak!", "", True),
        ("rusak", "(rusak)", "", True),
        ("rusak", "jalan-rusak", "", True),
        ("jalan rusak", "Jalan  rusak parah", "", True),
        ("jalan rusak", "", "ada JALAN\n\trusak di sini", True),
        ("jalan rusak", "jalan-rusak di Oelamasi", "", True),
        ("jalan rusak", "rusak jalan", "", False),
        ("jalan rusak", "jalan yang rusak", "", False),
        ("jalan rusak", "Saya ke jalan. Rusak juga motor saya", "", False),
        ("jalan rusak", "Lewat jalan", "rusak semua", False),
        ("puskesmas", "Pelayanan PUSKÉSMAS lambat", "", True),
        ("kécamatan", "kantor kecamatan tutup", "", True),
        ("Jum'at", "Tutup hari jum'at", "", True),
        ("ktp-el", "KTP el belum jadi", "", True),
        ("rp 1.000", "pungli Rp 1.000 per orang", "", True),
        ("rp 1.000", "pungli Rp 1 000 per orang", "", False),
        ("data_warga", "bocor data warga", "", True),
        ("ﬁber", "Internet FIBER putus", "", True),
    ],
)
def test_keywords_whole_words_and_phrases(keyword: str, title: str, body: str, expected: bool) -> None:
    assert matches(rule(keywords=(keyword,)), facts(title=title, body=body)) is expected


def test_keywords_any_of_the_list() -> None:
    r = rule(keywords=("banjir", "longsor"))
    assert matches(r, facts(title="Tanah longsor di Miomaffo"))
    assert not matches(r, facts(title="Kebakaran", body="hutan terbakar"))


def test_a_keyword_without_letters_never_matches() -> None:
    assert not matches(rule(keywords=("!!!",)), facts(title="!!!"))


def test_conditions_combine_with_and() -> None:
    r = rule(
        kinds=(ComplaintKind.COMPLAINT,),
        channels=(Channel.SMS,),
        category_ids=(7,),
        keywords=("lampu",),
        region_prefixes=("53",),
    )
    good = facts(channel=Channel.SMS)
    assert matches(r, good)
    for failing in (
        {"kind": ComplaintKind.ASPIRATION},
        {"channel": Channel.WEB},
        {"category_id": 8},
        {"title": "Air mati", "body": "PDAM tidak mengalir"},
        {"region_code": "61.01"},
    ):
        assert not matches(r, dataclasses.replace(good, **failing)), failing


def test_matches_ignores_enabled_first_match_skips_disabled() -> None:
    off = rule(1, enabled=False)
    on = rule(2)
    assert matches(off, facts())
    assert first_match([off, on], facts()) is on
    assert first_match([off], facts()) is None


def test_first_match_goes_by_position_not_list_order() -> None:
    specific = rule(1, keywords=("lampu",))
    broad = rule(2)
    later = rule(3, keywords=("lampu",))
    assert first_match([later, broad, specific], facts()) is specific
    assert first_match([later, broad, specific], facts(title="Air mati", body="")) is broad
    assert first_match([later, specific], facts(title="Air mati", body="")) is None
    assert first_match([], facts()) is None


def test_from_row_reads_a_routing_rule_row() -> None:
    row = {
        "id": 5,
        "position": 2,
        "name": "SMS ke Dinas PU",
        "enabled": True,
        "match_kinds": ["COMPLAINT"],
        "match_channels": ["SMS"],
        "match_category_ids": [1, 2],
        "match_keywords": ["jalan rusak"],
        "match_region_prefixes": ["53.71"],
        "action": "ASSIGN_UNIT",
        "unit_id": 9,
        "priority": None,
        "target_tenant": None,
        "auto_apply": True,
    }
    spec = RuleSpec.from_row(row)
    assert spec.kinds == (ComplaintKind.COMPLAINT,)
    assert spec.channels == (Channel.SMS,)
    assert spec.category_ids == (1, 2)
    assert spec.action is RoutingAction.ASSIGN_UNIT
    assert spec.priority is None and spec.unit_id == 9 and spec.auto_apply
    assert spec.as_json()["kinds"] == ["COMPLAINT"]


# Latin letters as Indonesian text and loanwords use them (dotless i and other letters whose case
# mapping is language-dependent are left out: their case-insensitive matching is ill-defined).
_LETTERS = string.ascii_letters + "àáâäçèéêëìíîïñòóôöùúûüÀÁÂÄÇÈÉÊËÌÍÎÏÑÒÓÔÖÙÚÛÜßæø"
_word = st.text(alphabet=_LETTERS, min_size=1, max_size=12)
_words = st.lists(_word, max_size=6).map(" ".join)
_case = st.sampled_from([str, str.upper, str.lower, str.title, str.swapcase])


@given(
    keyword=st.lists(_word, min_size=1, max_size=3).map(" ".join),
    prefix=_words,
    suffix=_words,
    change_case=_case,
    in_title=st.booleans(),
)
def test_a_keyword_between_words_always_matches(
    keyword: str, prefix: str, suffix: str, change_case: Any, in_title: bool
) -> None:
    text = change_case(f"{prefix} {keyword} {suffix}")
    sample = facts(title=text, body="") if in_title else facts(title="", body=text)
    assert matches(rule(keywords=(keyword,)), sample)


_segment = st.integers(0, 99).map(lambda n: f"{n:02d}")


@given(
    code=st.lists(_segment, min_size=1, max_size=3).map(".".join),
    prefix=st.lists(_segment, min_size=1, max_size=3).map(".".join),
)
def test_region_prefix_is_a_whole_segment_prefix(code: str, prefix: str) -> None:
    expected = code == prefix or code.startswith(prefix + ".")
    assert region_within(code, prefix) is expected


# ---------------------------------------------------------------------------------------------
# Validation without a database

_VALID = RuleInput(name="Prioritas tinggi", action=RoutingAction.SET_PRIORITY, priority=Priority.HIGH)


@pytest.mark.parametrize(
    ("changes", "code", "field"),
    [
        ({"name": "   "}, "INVALID_NAME", "name"),
        ({"name": "x" * 201}, "INVALID_NAME", "name"),
        ({"action": "SEND_EMAIL"}, "INVALID_ACTION", "action"),
        ({"priority": None}, "PRIORITY_REQUIRED", "priority"),
        ({"priority": "VERY_HIGH"}, "INVALID_PRIORITY", "priority"),
        ({"unit_id": 3}, "FIELD_NOT_ALLOWED", "unit_id"),
        ({"target_tenant": "ttu"}, "FIELD_NOT_ALLOWED", "target_tenant"),
        ({"action": "ASSIGN_UNIT", "priority": None}, "UNIT_REQUIRED", "unit_id"),
        ({"action": "ASSIGN_UNIT", "priority": None, "unit_id": -1}, "UNIT_NOT_FOUND", "unit_id"),
        ({"action": "TRANSFER_TO_TENANT", "priority": None}, "TARGET_TENANT_REQUIRED", "target_tenant"),
        (
            {"action": "TRANSFER_TO_TENANT", "priority": None, "target_tenant": "Kupang Kota"},
            "INVALID_TARGET_TENANT",
            "target_tenant",
        ),
        (
            {"action": "TRANSFER_TO_TENANT", "priority": None, "target_tenant": "kupang-"},
            "INVALID_TARGET_TENANT",
            "target_tenant",
        ),
        ({"kinds": ["KOMPLAIN"]}, "INVALID_KIND", "kinds"),
        ({"channels": ["FAX"]}, "INVALID_CHANNEL", "channels"),
        ({"channels": "SMS"}, "INVALID_CHANNEL", "channels"),
        ({"category_ids": [0]}, "CATEGORY_NOT_FOUND", "category_ids"),
        ({"keywords": [""]}, "INVALID_KEYWORD", "keywords"),
        ({"keywords": ["  "]}, "INVALID_KEYWORD", "keywords"),
        ({"keywords": ["?!"]}, "INVALID_KEYWORD", "keywords"),
        ({"keywords": ["a" * 101]}, "INVALID_KEYWORD", "keywords"),
        ({"keywords": [f"kata{i}" for i in range(51)]}, "TOO_MANY_VALUES", "keywords"),
        ({"region_prefixes": ["5"]}, "INVALID_REGION_PREFIX", "region_prefixes"),
        ({"region_prefixes": ["53.7"]}, "INVALID_REGION_PREFIX", "region_prefixes"),
        ({"region_prefixes": ["53.71."]}, "INVALID_REGION_PREFIX", "region_prefixes"),
        ({"region_prefixes": [f"{i:02d}" for i in range(51)]}, "TOO_MANY_VALUES", "region_prefixes"),
    ],
)
def test_validation_refuses_with_code_and_field(changes: dict[str, Any], code: str, field: str) -> None:
    with pytest.raises(DomainError) as refused:
        service.validate(dataclasses.replace(_VALID, **changes))
    assert (refused.value.code, refused.value.field) == (code, field)


def test_validation_normalizes() -> None:
    values = service.validate(
        dataclasses.replace(
            _VALID,
            name="  Jalan   rusak  ",
            action="set_priority",
            priority="urgent",
            kinds=["complaint", ComplaintKind.COMPLAINT],
            channels=["sms"],
            keywords=[" Jalan  Rusak ", "jalan rusak", "banjir"],
            region_prefixes=["53.71", " 53.71 ", "61"],
            category_ids=[4, 4, 2],
        )
    )
    assert values["name"] == "Jalan rusak"
    assert values["action"] == "SET_PRIORITY" and values["priority"] == "URGENT"
    assert values["match_kinds"] == ["COMPLAINT"] and values["match_channels"] == ["SMS"]
    assert values["match_keywords"] == ["Jalan Rusak", "banjir"]
    assert values["match_region_prefixes"] == ["53.71", "61"]
    assert values["match_category_ids"] == [4, 2]
    assert values["unit_id"] is None and values["target_tenant"] is None


# ---------------------------------------------------------------------------------------------
# The service on PostgreSQL

ADMIN = staff("Admin")


async def _add_unit(db, tenant, code: str, *, active: bool = True) -> int:
    async with tenant_transaction(db, tenant) as conn:
        return await conn.scalar(
            unit.insert().values(code=code, name=f"Dinas {code}", is_active=active).returning(unit.c.id)
        )


async def _category_id(db, tenant, code: str) -> int:
    async with tenant_transaction(db, tenant) as conn:
        return await conn.scalar(sa.select(category.c.id).where(category.c.code == code))


async def _counts(db, tenant) -> tuple[int, int]:
    async with tenant_transaction(db, tenant) as conn:
        rules = await conn.scalar(sa.select(sa.func.count()).select_from(routing_rule))
        audits = await conn.scalar(sa.select(sa.func.count()).select_from(audit_event))
    return rules, audits


async def _audits(db, tenant) -> list[Any]:
    async with tenant_transaction(db, tenant) as conn:
        return list(await conn.execute(sa.select(audit_event).order_by(audit_event.c.id)))


async def _create(db, tenant, data: RuleInput) -> RuleSpec:
    async with tenant_transaction(db, tenant) as conn:
        return await service.create_rule(conn, ADMIN, data)


def _priority_rule(name: str, **fields: Any) -> RuleInput:
    return RuleInput(name=name, action=RoutingAction.SET_PRIORITY, priority=Priority.HIGH, **fields)


async def test_create_list_get_update_delete(db, make_regency) -> None:
    tenant = await make_regency()
    dinas_pu = await _add_unit(db, tenant, "PUPR")
    infrastruktur = await _category_id(db, tenant, "INFRASTRUKTUR")
    first = await _create(
        db,
        tenant,
        RuleInput(
            name="Jalan rusak ke PUPR",
            action=RoutingAction.ASSIGN_UNIT,
            unit_id=dinas_pu,
            kinds=[ComplaintKind.COMPLAINT],
            channels=[Channel.WEB, Channel.SMS],
            category_ids=[infrastruktur],
            keywords=["jalan rusak", "jembatan"],
            region_prefixes=["53.71"],
            auto_apply=True,
        ),
    )
    second = await _create(db, tenant, _priority_rule("Banjir mendesak", keywords=["banjir"]))
    third = await _create(
        db, tenant, RuleInput(name="Bukan wewenang", action="TRANSFER_TO_TENANT", target_tenant="ntt")
    )
    assert (first.position, second.position, third.position) == (1, 2, 3), "new rules go to the end"
    assert first.id is not None and first.unit_id == dinas_pu and first.auto_apply
    assert first.keywords == ("jalan rusak", "jembatan") and first.category_ids == (infrastruktur,)
    assert first.created_at is not None

    async with tenant_transaction(db, tenant) as conn:
        listed = await service.list_rules(conn, ADMIN)
        assert [r.id for r in listed] == [first.id, second.id, third.id]
        assert await service.get_rule(conn, ADMIN, second.id) == second

        renamed = await service.update_rule(conn, ADMIN, second.id, RulePatch(name="Banjir", enabled=False))
        assert renamed.name == "Banjir" and not renamed.enabled
        assert renamed.keywords == ("banjir",) and renamed.position == 2, "fields not in the patch stay"

        switched = await service.update_rule(
            conn, ADMIN, first.id, RulePatch(action=RoutingAction.SET_PRIORITY, priority="URGENT")
        )
        assert switched.action is RoutingAction.SET_PRIORITY and switched.priority is Priority.URGENT
        assert switched.unit_id is None, "the old action's unit is dropped with the action"

        replaced = await service.update_rule(conn, ADMIN, third.id, _priority_rule("Ganti total"))
        assert replaced.target_tenant is None and replaced.priority is Priority.HIGH
        assert replaced.position == 3

        deleted = await service.delete_rule(conn, ADMIN, second.id)
        assert deleted.name == "Banjir"
        assert [r.id for r in await service.list_rules(conn, ADMIN)] == [first.id, third.id]
        for operation in (
            service.get_rule(conn, ADMIN, second.id),
            service.delete_rule(conn, ADMIN, second.id),
            service.update_rule(conn, ADMIN, second.id, RulePatch(name="x")),
        ):
            with pytest.raises(DomainError) as missing:
                await operation
            assert missing.value.code == "NOT_FOUND"

    fourth = await _create(db, tenant, _priority_rule("Keempat"))
    assert fourth.position == 4, "max + 1 even after a deletion left a gap"


async def test_each_write_is_audited_in_the_same_transaction(db, make_regency) -> None:
    tenant = await make_regency()
    created = await _create(db, tenant, _priority_rule("Awal", keywords=["air"]))
    other = await _create(db, tenant, _priority_rule("Lain"))
    async with tenant_transaction(db, tenant) as conn:
        await service.update_rule(conn, ADMIN, created.id, RulePatch(keywords=["air", "pdam"]))
        await service.reorder_rules(conn, ADMIN, [other.id, created.id])
        await service.delete_rule(conn, ADMIN, created.id)

    rows = await _audits(db, tenant)
    assert [row.action for row in rows] == [
        "routing_rule.create",
        "routing_rule.create",
        "routing_rule.update",
        "routing_rule.reorder",
        "routing_rule.delete",
    ]
    assert {row.actor for row in rows} == {"Admin"}
    assert {row.entity for row in rows} == {"routing_rule"}
    assert [row.entity_id for row in rows] == [created.id, other.id, created.id, None, created.id]
    create, _, update, reorder, delete = (row.details for row in rows)
    assert create["before"] is None and create["after"]["name"] == "Awal"
    assert create["after"]["keywords"] == ["air"]
    assert update["before"]["keywords"] == ["air"] and update["after"]["keywords"] == ["air", "pdam"]
    assert update["changed"] == ["keywords"]
    assert reorder == {"before": [created.id, other.id], "after": [other.id, created.id]}
    assert delete["before"]["id"] == created.id and delete["after"] is None

    # A refused change rolls back with its transaction: no rule and no audit row.
    before = await _counts(db, tenant)
    with pytest.raises(DomainError):
        async with tenant_transaction(db, tenant) as conn:
            await service.create_rule(conn, ADMIN, _priority_rule("Sah"))
            await service.create_rule(conn, ADMIN, _priority_rule(""))
    assert await _counts(db, tenant) == before


async def test_reorder(db, make_regency) -> None:
    tenant = await make_regency()
    a, b, c = [await _create(db, tenant, _priority_rule(name)) for name in ("A", "B", "C")]
    async with tenant_transaction(db, tenant) as conn:
        reordered = await service.reorder_rules(conn, ADMIN, [c.id, a.id, b.id])
    assert [(r.name, r.position) for r in reordered] == [("C", 1), ("A", 2), ("B", 3)]

    for invalid in (
        [c.id, a.id],  # one missing
        [c.id, a.id, b.id, b.id],  # one twice
        [c.id, a.id, a.id],  # one twice, one missing
        [c.id, a.id, b.id, 999_999],  # an unknown id
        [],
    ):
        with pytest.raises(DomainError) as refused:
            async with tenant_transaction(db, tenant) as conn:
                await service.reorder_rules(conn, ADMIN, invalid)
        assert (refused.value.code, refused.value.field) == ("INVALID_ORDER", "ordered_ids"), invalid

    async with tenant_transaction(db, tenant) as conn:
        assert [r.name for r in await service.list_rules(conn, ADMIN)] == ["C", "A", "B"]
    empty = await make_regency()
    async with tenant_transaction(db, empty) as conn:
        assert await service.reorder_rules(conn, ADMIN, []) == [], "no rules: the empty order is valid"


async def test_references_are_checked_in_the_tenant(db, make_regency) -> None:
    tenant = await make_regency()
    closed = await _add_unit(db, tenant, "TUTUP", active=False)
    open_unit = await _add_unit(db, tenant, "BUKA")
    cases = [
        (RuleInput(name="x", action="ASSIGN_UNIT", unit_id=closed), "UNIT_NOT_FOUND", "unit_id"),
        (RuleInput(name="x", action="ASSIGN_UNIT", unit_id=987_654), "UNIT_NOT_FOUND", "unit_id"),
        (_priority_rule("x", category_ids=[987_654]), "CATEGORY_NOT_FOUND", "category_ids"),
    ]
    for data, code, field in cases:
        with pytest.raises(DomainError) as refused:
            async with tenant_transaction(db, tenant) as conn:
                await service.create_rule(conn, ADMIN, data)
        assert (refused.value.code, refused.value.field) == (code, field)
    assert await _counts(db, tenant) == (0, 0), "refusals write nothing"

    # A rule whose unit is deactivated later stays editable, but cannot be pointed at a closed unit.
    assigned = await _create(db, tenant, RuleInput(name="Ke BUKA", action="ASSIGN_UNIT", unit_id=open_unit))
    async with tenant_transaction(db, tenant) as conn:
        await conn.execute(unit.update().where(unit.c.id == open_unit).values(is_active=False))
        renamed = await service.update_rule(conn, ADMIN, assigned.id, RulePatch(name="Ke BUKA (lama)"))
        assert renamed.unit_id == open_unit
    with pytest.raises(DomainError) as refused:
        async with tenant_transaction(db, tenant) as conn:
            await service.update_rule(conn, ADMIN, assigned.id, RulePatch(unit_id=closed))
    assert refused.value.code == "UNIT_NOT_FOUND"


async def test_preview_finds_the_rule_and_writes_nothing(db, make_regency) -> None:
    tenant = await make_regency()
    await _create(db, tenant, _priority_rule("Mati", keywords=["lampu"], enabled=False))
    banjir = await _create(db, tenant, _priority_rule("Banjir", keywords=["banjir"]))
    ntt = await _create(
        db,
        tenant,
        RuleInput(
            name="Wilayah 53", action="TRANSFER_TO_TENANT", target_tenant="ntt", region_prefixes=["53"]
        ),
    )
    before = await _counts(db, tenant)
    async with tenant_transaction(db, tenant) as conn:
        assert await service.preview(conn, ADMIN, facts(title="Banjir di Kefamenanu", body="")) == banjir
        assert await service.preview(conn, ADMIN, facts()) == ntt, "the disabled lampu rule is skipped"
        assert await service.preview(conn, ADMIN, facts(region_code="61.01")) is None
        assert await service.route(conn, facts()) == ntt
    assert await _counts(db, tenant) == before


async def test_scopes_are_required(db, make_regency) -> None:
    tenant = await make_regency()
    existing = await _create(db, tenant, _priority_rule("Ada"))
    reader = staff("Pembaca", scopes=frozenset({"routing:read"}))
    nobody = staff("Tamu", scopes=ALL_STAFF_SCOPES - {"routing:read", "routing:write"})
    writes = [
        lambda conn, actor: service.create_rule(conn, actor, _priority_rule("Baru")),
        lambda conn, actor: service.update_rule(conn, actor, existing.id, RulePatch(name="Ubah")),
        lambda conn, actor: service.delete_rule(conn, actor, existing.id),
        lambda conn, actor: service.reorder_rules(conn, actor, [existing.id]),
        # Scope before validation: an invalid input still answers FORBIDDEN.
        lambda conn, actor: service.create_rule(conn, actor, _priority_rule("")),
    ]
    reads = [
        lambda conn, actor: service.list_rules(conn, actor),
        lambda conn, actor: service.get_rule(conn, actor, existing.id),
        lambda conn, actor: service.preview(conn, actor, facts()),
    ]
    for actor, refused_operations in ((reader, writes), (nobody, writes + reads)):
        for operation in refused_operations:
            with pytest.raises(DomainError) as refused:
                async with tenant_transaction(db, tenant) as conn:
                    await operation(conn, actor)
            assert refused.value.code == "FORBIDDEN"
    async with tenant_transaction(db, tenant) as conn:
        for operation in reads:
            await operation(conn, reader)
    assert await _counts(db, tenant) == (1, 1), "only the setup's create was written and audited"


async def test_rules_stay_in_their_tenant(db, make_regency) -> None:
    a, b = await make_regency(), await make_regency()
    only_a = await _create(db, a, _priority_rule("Hanya A", keywords=["lampu"]))
    async with tenant_transaction(db, b) as conn:
        assert await service.list_rules(conn, ADMIN) == []
        assert await service.preview(conn, ADMIN, facts()) is None
        for operation in (
            service.get_rule(conn, ADMIN, only_a.id),
            service.update_rule(conn, ADMIN, only_a.id, RulePatch(name="Curi")),
            service.delete_rule(conn, ADMIN, only_a.id),
        ):
            with pytest.raises(DomainError) as missing:
                await operation
            assert missing.value.code == "NOT_FOUND"
        with pytest.raises(DomainError) as refused:
            await service.reorder_rules(conn, ADMIN, [only_a.id])
        assert refused.value.code == "INVALID_ORDER"
    own_b = await _create(db, b, _priority_rule("Milik B"))
    assert own_b.position == 1, "positions are per tenant"
    async with tenant_transaction(db, a) as conn:
        assert [r.name for r in await service.list_rules(conn, ADMIN)] == ["Hanya A"]
    assert (await _audits(db, b))[0].entity_id == own_b.id
    assert len(await _audits(db, a)) == 1


async def test_concurrent_creates_get_distinct_positions(db, make_regency) -> None:
    """max + 1 under concurrency: the table lock makes creators take turns, so no position repeats."""
    tenant = await make_regency()
    created = await asyncio.gather(*(_create(db, tenant, _priority_rule(f"R{i}")) for i in range(6)))
    assert sorted(r.position for r in created) == [1, 2, 3, 4, 5, 6]
