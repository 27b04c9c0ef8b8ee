"""The demo world: the tenants of the news reports this product grew from (DESIGN.md section 8).

``lapor serve --demo`` should show a living system, not empty screens, so every province, regency
and city of the demo gets work units, routing rules and about thirty complaints spread over every
status. They are driven through the real services (submit, verify, assign, respond, accept, ...)
so timelines, deadlines, versions, encrypted reporters and routing are exactly what real use
produces; nothing is inserted with SQL behind the services' back. The content lives in
:mod:`lapor.demo_data`.

Seeding is idempotent per tenant: a tenant that already has a complaint, or any unit with a demo
code, is left alone, so running ``serve --demo`` again (or against a database somebody already
uses) never duplicates or mixes anything.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import random
import time
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from lapor.demo_data import (
    ARCHIVE_TEMPLATES,
    ASSIGN_NOTES,
    CHANNEL_WEIGHTS,
    COMPLETIONS,
    CONVERSATIONS,
    DISPUTES,
    FOLLOW_UPS,
    PEMDA_PLAN,
    PHONE_PREFIXES,
    PLACES,
    PROVINCE,
    PROVINCE_PLAN,
    QUESTIONS,
    RATINGS_GOOD,
    RATINGS_MIXED,
    REPLIES,
    REPORTER_NAMES,
    RULES,
    SECOND_RESPONSE,
    SMS_SHORT_CODE,
    TEMPLATES,
    VERIFY_NOTES,
    ArchiveTemplate,
    Place,
    RuleSeed,
    Scenario,
    Template,
    all_unit_codes,
    kecamatan_code,
    units_for,
)
from lapor.platform.calendar import CalendarStore
from lapor.platform.db import Database
from lapor.platform.errors import DomainError
from lapor.platform.secrets import format_access_code, load_secrets
from lapor.settings import Settings
from lapor.tenants.actors import Actor, staff
from lapor.tenants.complaints.inputs import ReporterInput, SubmitInput
from lapor.tenants.complaints.records import ComplaintRecord
from lapor.tenants.complaints.service import ComplaintService
from lapor.tenants.complaints.submitters import SUBMIT_SCOPE, needs_client
from lapor.tenants.context import tenant_transaction
from lapor.tenants.enums import (
    ActorKind,
    Channel,
    ComplaintKind,
    ComplaintStatus,
    ResponseOutcome,
    RoutingAction,
)
from lapor.tenants.provisioning import Provisioner
from lapor.tenants.records import Tenant, TenantKind
from lapor.tenants.reference import create_unit
from lapor.tenants.registry import list_tenants
from lapor.tenants.routing.matching import ComplaintFacts, RuleSpec, first_match
from lapor.tenants.routing.service import RuleInput, create_rule
from lapor.tenants.tables import category, complaint, unit
from lapor.tenants.validation import TenantSpec

log = logging.getLogger(__name__)

S = ComplaintStatus

DEMO_TENANTS: tuple[TenantSpec, ...] = (
    TenantSpec("kemenpan-rb", "Kementerian PANRB (nasional)", "NATIONAL", time_zone="Asia/Jakarta"),
    TenantSpec(
        "ntt", "Provinsi Nusa Tenggara Timur", "PROVINCE", region_code="53", time_zone="Asia/Makassar"
    ),
    TenantSpec("ttu", "Kabupaten Timor Tengah Utara", "REGENCY", parent="ntt", region_code="53.05"),
    TenantSpec(
        "kupang-kota",
        "Kota Kupang",
        "CITY",
        parent="ntt",
        region_code="53.71",
        domains=("lapor.kupangkota.go.id",),
    ),
    TenantSpec(
        "kalbar", "Provinsi Kalimantan Barat", "PROVINCE", region_code="61", time_zone="Asia/Pontianak"
    ),
    TenantSpec("landak", "Kabupaten Landak", "REGENCY", parent="kalbar", region_code="61.08"),
    TenantSpec("malut", "Provinsi Maluku Utara", "PROVINCE", region_code="82", time_zone="Asia/Jayapura"),
    TenantSpec("tidore", "Kota Tidore Kepulauan", "CITY", parent="malut", region_code="82.72"),
)

SEEDED_KINDS = frozenset({TenantKind.PROVINCE, TenantKind.REGENCY, TenantKind.CITY})
SAMPLE_TENANT = "kupang-kota"
"""Whose complaint ``serve --demo`` offers as the reporter's example (it has a custom domain too)."""
_PUBLIC_STATUSES = frozenset({S.VERIFIED, S.IN_PROGRESS, S.RESPONDED, S.CLOSED})
"""Where the public feed shows a complaint, so where supporters can find it."""


@dataclass(frozen=True)
class DemoSample:
    """A seeded complaint and its access code (shown once at submission, so kept here)."""

    tenant: str
    tracking_id: str
    access_code: str
    status: ComplaintStatus


@dataclass
class DemoWorld:
    """What one call did: tenants provisioned, complaints seeded per tenant, how long it took."""

    created: list[Tenant]
    complaints: dict[str, int] = field(default_factory=dict)
    samples: list[DemoSample] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def sample(self) -> DemoSample | None:
        """One complaint to try the reporter's side on: answered, waiting for accept or dispute."""
        ranked = sorted(self.samples, key=lambda s: (s.status is not S.RESPONDED, s.tenant != SAMPLE_TENANT))
        return ranked[0] if ranked else None


async def ensure_demo_world(db: Database, base_domain: str, settings: Settings | None = None) -> list[Tenant]:
    """Create whichever demo tenants are missing (parents first), seed the ones never seeded;
    return the tenants created. :func:`build_demo_world` also tells what was seeded."""
    return (await build_demo_world(db, base_domain, settings)).created


async def build_demo_world(db: Database, base_domain: str, settings: Settings | None = None) -> DemoWorld:
    """Provision the missing demo tenants, then seed every province, regency and city not yet seeded.

    ``settings`` gives the secret key that encrypts reporter data; without it the database's own
    settings are used (their ``LAPOR_SECRET_KEY``, else the key file under their data dir), which
    is what the API reading these complaints uses too.
    """
    started = time.perf_counter()
    existing = {tenant.slug for tenant in await list_tenants(db)}
    provisioner = Provisioner(db, base_domain)
    created = [await provisioner.create(spec) for spec in DEMO_TENANTS if spec.slug not in existing]
    by_slug = {tenant.slug: tenant for tenant in await list_tenants(db)}
    targets = [
        by_slug[spec.slug]
        for spec in DEMO_TENANTS
        if spec.slug in by_slug and spec.slug in PLACES and by_slug[spec.slug].kind in SEEDED_KINDS
    ]
    calendars = CalendarStore(db)
    # Warm the shared caches first: otherwise every tenant task loads them at once, each holding
    # a tenant connection while it waits for a public one, which could drain a small pool.
    await calendars.calendar()
    await calendars.national_policy()
    service = ComplaintService(db, load_secrets(settings or db.settings), calendars)
    seeded = await asyncio.gather(
        *(
            _seed_tenant(db, service, tenant, PLACES[tenant.slug], number)
            for number, tenant in enumerate(targets)
        )
    )
    world = DemoWorld(created)
    for tenant, samples in zip(targets, seeded, strict=True):
        if samples is not None:
            world.complaints[tenant.slug] = len(samples)
            world.samples.extend(samples)
    world.seconds = time.perf_counter() - started
    if world.complaints:
        log.info(
            "demo: seeded %d complaints in %d tenants in %.1f s",
            sum(world.complaints.values()),
            len(world.complaints),
            world.seconds,
        )
    return world


# --- one tenant ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Item:
    """One complaint to file and how far to take it."""

    scenario: Scenario
    data: SubmitInput
    unit_id: int | None = None
    response: str = ""
    outcome: ResponseOutcome = ResponseOutcome.RESOLVED
    archive_reason: str = ""


@dataclass(frozen=True)
class _Setup:
    units: dict[str, int]
    unit_names: dict[int, str]
    rules: list[RuleSpec]
    categories: dict[str, int]


async def _seed_tenant(
    db: Database, service: ComplaintService, tenant: Tenant, place: Place, number: int
) -> list[DemoSample] | None:
    """Units and rules in one transaction, then the complaints; ``None`` if already seeded."""
    admin = staff(f"Admin {tenant.name}")
    rng = random.Random(f"lapor-demo:{tenant.slug}")  # the same world every time, per tenant
    try:
        async with tenant_transaction(db, tenant) as conn:
            if await _already_seeded(conn):
                log.info("demo: %s already has data, not seeding it", tenant.slug)
                return None
            setup = await _create_setup(conn, admin, place)
    except DomainError as error:
        if error.code == "DUPLICATE_CODE":  # another process is seeding the same tenant right now
            log.info("demo: %s is being seeded elsewhere (%s)", tenant.slug, error.message)
            return None
        raise
    items = _plan(tenant, place, setup, rng, number)
    samples = [await _play(service, tenant, admin, setup, item, rng) for item in items]
    log.info(
        "demo: %s seeded with %d units, %d rules, %d complaints",
        tenant.slug,
        len(setup.units),
        len(setup.rules),
        len(samples),
    )
    return samples


async def _already_seeded(conn: AsyncConnection) -> bool:
    has_complaint = sa.exists(sa.select(complaint.c.id))
    has_demo_unit = sa.exists(sa.select(unit.c.id).where(unit.c.code.in_(sorted(all_unit_codes()))))
    return bool(await conn.scalar(sa.select(sa.or_(has_complaint, has_demo_unit))))


async def _create_setup(conn: AsyncConnection, admin: Actor, place: Place) -> _Setup:
    units: dict[str, int] = {}
    unit_names: dict[int, str] = {}
    for seed in units_for(place):
        row = await create_unit(conn, admin, seed.code, seed.name, seed.kind)
        units[seed.code] = row.id
        unit_names[row.id] = seed.name
    rules = [await create_rule(conn, admin, _rule_input(RULES[key], units)) for key in place.rules]
    categories = {code: id_ for code, id_ in (await conn.execute(sa.select(category.c.code, category.c.id)))}
    return _Setup(units, unit_names, rules, categories)


def _rule_input(seed: RuleSeed, units: dict[str, int]) -> RuleInput:
    if seed.priority is not None:
        return RuleInput(
            name=seed.name,
            action=RoutingAction.SET_PRIORITY,
            keywords=seed.keywords,
            priority=seed.priority,
            auto_apply=seed.auto_apply,
        )
    assert seed.unit is not None
    return RuleInput(
        name=seed.name,
        action=RoutingAction.ASSIGN_UNIT,
        keywords=seed.keywords,
        unit_id=units[seed.unit],
        auto_apply=seed.auto_apply,
    )


# --- the plan: which text, which channel, which reporter, how far ---------------------------------


def _plan(tenant: Tenant, place: Place, setup: _Setup, rng: random.Random, number: int) -> list[_Item]:
    """Pair every scenario of the tenant's plan with a rendered complaint, then shuffle them so
    tracking numbers do not line up with statuses."""
    scenarios = list(PROVINCE_PLAN if place.level == PROVINCE else PEMDA_PLAN)
    pool = [t for t in TEMPLATES if place.level in t.levels]
    rng.shuffle(pool)
    normal = [s for s in scenarios if s is not Scenario.ARCHIVED]
    # A small pool repeats with other places filled in, as real reports about roads do.
    candidates = [
        _render(t, tenant, place, setup, rng) for t in itertools.islice(itertools.cycle(pool), len(normal))
    ]
    # The picky scenarios choose first (see _fits).
    normal.sort(key=lambda s: s is not Scenario.VERIFIED and s not in CONVERSATIONS)
    items: list[_Item] = []
    for scenario in normal:
        choice = next((c for c in candidates if _fits(scenario, c, setup)), candidates[0])
        candidates.remove(choice)
        items.append(_Item(scenario, choice.data, choice.unit_id, choice.response, choice.outcome))
    archives = rng.sample(ARCHIVE_TEMPLATES, scenarios.count(Scenario.ARCHIVED))
    items.extend(_render_archive(a, tenant, place, rng) for a in archives)
    rng.shuffle(items)
    return [_with_channel(item, place, rng, number, index) for index, item in enumerate(items)]


@dataclass(frozen=True)
class _Rendered:
    data: SubmitInput
    unit_id: int
    response: str
    outcome: ResponseOutcome


def _context(tenant: Tenant, place: Place, rng: random.Random) -> tuple[dict[str, str], str]:
    """Placeholder values for one complaint, and the area (kecamatan) it happens in."""
    area = rng.choice(place.areas)
    context = {
        "town": place.town,
        "government": place.government,
        "head": place.head,
        "zone": place.zone,
        "area": place.area_prefix + area.name,
        "village": rng.choice(area.villages),
        "puskesmas": area.puskesmas,
        "street": rng.choice(place.streets),
        "market": place.market,
        "hospital": place.hospital,
        "terminal": place.terminal,
        "route": rng.choice(place.routes) if place.routes else "",
        "industry": place.industry,
        "tenant": tenant.name,
    }
    return context, area.name


def _render(template: Template, tenant: Tenant, place: Place, setup: _Setup, rng: random.Random) -> _Rendered:
    context, area = _context(tenant, place, rng)
    data = SubmitInput(
        kind=template.kind,
        channel=Channel.WEB,
        title=template.title.format(**context),
        body=template.body.format(**context),
        category_code=template.category,
        region_code=tenant.region_code,
        location=template.location.format(**context) or None,
        anonymous=template.anonymous,
        confidential=template.confidential,
    )
    return _Rendered(
        data, _unit_for(template, area, setup), template.response.format(**context), template.outcome
    )


def _unit_for(template: Template, area: str, setup: _Setup) -> int:
    for code in template.units:
        wanted = kecamatan_code(area) if code == "KEC" else code
        if wanted in setup.units:
            return setup.units[wanted]
    raise LookupError(f"demo template {template.title!r}: none of the units {template.units} exists")


def _fits(scenario: Scenario, candidate: _Rendered, setup: _Setup) -> bool:
    """VERIFIED must stay VERIFIED, so no auto-applying unit rule may catch its text on verify;
    disputes and replies are written about complaints, not about questions or wishes."""
    if scenario is Scenario.VERIFIED:
        return not _auto_assigned(candidate, setup)
    if scenario in CONVERSATIONS:
        return candidate.data.kind is ComplaintKind.COMPLAINT
    return True


def _auto_assigned(candidate: _Rendered, setup: _Setup) -> bool:
    """Would verification dispose it by itself (an auto-applying ASSIGN_UNIT rule matches first)?"""
    data = candidate.data
    facts = ComplaintFacts(
        kind=data.kind,
        channel=data.channel,
        category_id=setup.categories.get(data.category_code or ""),
        title=data.title,
        body=data.body,
        region_code=data.region_code,
    )
    rule = first_match(setup.rules, facts)
    return rule is not None and rule.auto_apply and rule.action is RoutingAction.ASSIGN_UNIT


def _render_archive(template: ArchiveTemplate, tenant: Tenant, place: Place, rng: random.Random) -> _Item:
    context, _ = _context(tenant, place, rng)
    data = SubmitInput(
        kind=ComplaintKind.COMPLAINT,
        channel=Channel.WEB,
        title=template.title.format(**context),
        body=template.body.format(**context),
        region_code=tenant.region_code,
    )
    return _Item(Scenario.ARCHIVED, data, archive_reason=template.reason)


def _with_channel(item: _Item, place: Place, rng: random.Random, number: int, index: int) -> _Item:
    """Pick the channel and the reporter: who writes an SMS gives a phone, an e-mail an address."""
    channels, weights = zip(*CHANNEL_WEIGHTS, strict=True)
    channel: Channel = rng.choices(channels, weights)[0]
    data = item.data
    anonymous = data.anonymous or rng.random() < 0.1
    confidential = data.confidential or (not anonymous and rng.random() < 0.05)
    name = rng.choice(REPORTER_NAMES[place.region])
    phone = "+62" + rng.choice(PHONE_PREFIXES) + str(rng.randint(10_000_000, 99_999_999))
    reference: str | None = None
    if channel is Channel.SMS:
        reference = f"{SMS_SHORT_CODE}-{number + 1}{index:04d}"
    elif channel is Channel.WHATSAPP:
        reference = f"wamid.{rng.getrandbits(64):016X}"
    reporter: ReporterInput | None
    if anonymous:
        # Anonymous by SMS/WhatsApp still leaves a number the platform relays to, never shows.
        reporter = ReporterInput(phone=phone) if channel in (Channel.SMS, Channel.WHATSAPP) else None
    elif channel is Channel.EMAIL:
        email = ".".join(name.lower().split()[:2]) + f"{rng.randint(1, 99)}@gmail.com"
        reporter = ReporterInput(name=name, email=email)
    elif channel is Channel.SOCIAL:
        reporter = ReporterInput(name=name)
    else:
        reporter = ReporterInput(name=name, phone=phone)
    data = SubmitInput(
        kind=data.kind,
        channel=channel,
        title=data.title,
        body=data.body,
        category_code=data.category_code,
        region_code=data.region_code,
        location=data.location,
        anonymous=anonymous,
        confidential=confidential,
        external_ref=reference,
        reporter=reporter,
    )
    return _Item(item.scenario, data, item.unit_id, item.response, item.outcome, item.archive_reason)


# --- playing one complaint through the services ---------------------------------------------------


def _gateway(tenant: Tenant, data: SubmitInput) -> Actor | None:
    """Who files it: the public for WEB and MOBILE, else the channel's gateway, an OAuth client
    with ``complaints:submit`` (as in production: such a submission needs one). The demo files
    through the service, so the client id is a label, never a registered client."""
    if not needs_client(data):
        return None
    client_id = f"demo-gateway-{data.channel.value.lower()}-{tenant.slug}"
    return Actor(
        ActorKind.STAFF,
        name=f"Gateway {data.channel.value} demo",
        scopes=frozenset({SUBMIT_SCOPE}),
        client_id=client_id,
        subject=client_id,
    )


async def _play(
    service: ComplaintService, tenant: Tenant, admin: Actor, setup: _Setup, item: _Item, rng: random.Random
) -> DemoSample:
    """Submit ``item`` and take it as far as its scenario says, as admin, unit officer and reporter."""
    submission = await service.submit(tenant, item.data, _gateway(tenant, item.data))
    code = submission.access_code
    assert code is not None and not submission.duplicate, "demo complaints are new submissions"
    tid = submission.complaint.tracking_id
    record = await _advance(service, tenant, admin, setup, item, rng, submission.complaint, code)
    if not record.confidential and record.status in _PUBLIC_STATUSES and rng.random() < 0.35:
        for supporter in range(rng.randint(1, 9)):
            await service.support(tenant, tid, f"demo:{tenant.slug}:{supporter}")
    return DemoSample(tenant.slug, tid, format_access_code(code), record.status)


async def _advance(
    service: ComplaintService,
    tenant: Tenant,
    admin: Actor,
    setup: _Setup,
    item: _Item,
    rng: random.Random,
    submitted: ComplaintRecord,
    code: str,
) -> ComplaintRecord:
    scenario, tid = item.scenario, submitted.tracking_id
    if scenario is Scenario.SUBMITTED:
        return submitted
    if scenario is Scenario.ARCHIVED:
        return await service.archive(tenant, admin, tid, item.archive_reason)
    if scenario in (Scenario.NEEDS_INFO, Scenario.INFO_COMPLETED):
        which = rng.randrange(len(QUESTIONS))
        record = await service.request_information(tenant, admin, tid, QUESTIONS[which])
        if scenario is Scenario.INFO_COMPLETED:
            record = await service.complete(tenant, tid, code, COMPLETIONS[which])
        return record
    record = await service.verify(tenant, admin, tid, note=rng.choice(VERIFY_NOTES))
    if scenario is Scenario.VERIFIED:
        return record
    if record.status is S.VERIFIED:  # no auto-applying rule disposed it on verification
        assert item.unit_id is not None
        record = await service.assign(tenant, admin, tid, item.unit_id, note=rng.choice(ASSIGN_NOTES))
    if scenario is Scenario.IN_PROGRESS:
        return record
    assert record.unit_id is not None
    officer = staff(f"Operator {setup.unit_names[record.unit_id]}", unit_id=record.unit_id)
    record = await service.respond(tenant, officer, tid, item.outcome, item.response)
    if scenario is Scenario.DISPUTED:
        return await service.dispute(tenant, tid, code, rng.choice(DISPUTES))
    if scenario is Scenario.RESPONDED:
        return record
    if scenario is Scenario.RESPONDED_REPLY:
        which = rng.randrange(len(REPLIES))
        await service.reply(tenant, tid, code, REPLIES[which])
        return await service.respond(tenant, officer, tid, item.outcome, FOLLOW_UPS[which])
    if scenario is Scenario.REOPENED_CLOSED:
        await service.dispute(tenant, tid, code, rng.choice(DISPUTES))
        await service.respond(tenant, officer, tid, ResponseOutcome.RESOLVED, SECOND_RESPONSE)
    record = await service.accept(tenant, tid, code)
    if scenario is Scenario.CLOSED_UNRATED:
        return record
    if scenario is Scenario.REOPENED_CLOSED:
        rating, comment = 4, "Akhirnya tuntas setelah saya sanggah. Terima kasih sudah ditinjau ulang."
    elif item.outcome is ResponseOutcome.RESOLVED:
        rating, comment = rng.choice(RATINGS_GOOD)
    else:
        rating, comment = rng.choice(RATINGS_MIXED)
    return await service.rate(tenant, tid, code, rating, comment)
