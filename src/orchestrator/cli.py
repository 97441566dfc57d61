"""The `orchestrator` command: operations and scripting on top of the service layer.

Every command prints for people by default and JSON with `--json`; errors go to stderr with a
non-zero exit code (1 for a refused operation, 2 for wrong usage).
"""
from __future__ import annotations

import dataclasses
import getpass
import json
import logging
import sys
from datetime import date, datetime
from functools import wraps
from pathlib import Path

import click

from . import clock
from .config import Settings
from .services import (access, bootstrap, deployment, innsyn, instances, messages, tasks, tilgangslogg, timers, tjenester,
                       tokens, users)
from .services.casedata import moment_text
from .services.wording import action_name, role_name, roles_text, status_name, status_sentence
from .services.context import Orchestrator
from .services.errors import DeployRefused, Invalid, ServiceError
from .store import migrate


def _jsonable(value):
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {k: _jsonable(v) for k, v in vars(value).items() if k not in ("form",)}
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return value


class Cli:
    def __init__(self, as_json: bool):
        self.as_json = as_json
        self._orc: Orchestrator | None = None

    @property
    def orc(self) -> Orchestrator:
        if self._orc is None:
            self._orc = bootstrap.build(Settings.from_env())
        return self._orc

    def actor(self, username: str | None, default: access.Actor = access.SYSTEM) -> access.Actor:
        return users.actor_for(self.orc, username) if username else default

    def out(self, value, human=None) -> None:
        if self.as_json:
            click.echo(json.dumps(_jsonable(value), ensure_ascii=False, indent=2))
        elif human is not None:
            human(value)
        else:
            click.echo(json.dumps(_jsonable(value), ensure_ascii=False, indent=2))


def command(group, *args, **kwargs):
    """A subcommand with `--json` and service errors turned into exit codes."""

    def decorate(fn):
        @group.command(*args, **kwargs)
        @click.option("--json", "as_json", is_flag=True, help="Skriv resultatet som JSON.")
        @click.pass_context
        @wraps(fn)
        def wrapper(ctx, as_json, **params):
            cli: Cli = ctx.obj
            cli.as_json = cli.as_json or as_json
            try:
                with tilgangslogg.requested_from(tilgangslogg.KOMMANDOLINJE, "lokal", _who_runs(ctx)):
                    return fn(cli, **params)
            except DeployRefused as error:
                click.echo("Utrullingen ble avvist; ingenting ble lagret:", err=True)
                for problem in error.problems:
                    click.echo(f"  {problem}", err=True)
                    if problem.detail:  # what the parser or engine said, for whoever needs it
                        click.echo(f"      Teknisk: {problem.detail}", err=True)
                sys.exit(1)
            except Invalid as error:
                click.echo(f"Feil: {error.message}", err=True)
                for field, problems in error.fields.items():
                    click.echo(f"  {field}: {' '.join(problems)}", err=True)
                sys.exit(1)
            except ServiceError as error:
                click.echo(f"Feil: {error.message}", err=True)
                sys.exit(1)

        return wrapper

    return decorate


def _who_runs(ctx: click.Context) -> str:
    """The command and the operating-system user who typed it (the read-access log's «from where»)."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "?"
    return f"{ctx.command_path} (bruker {user})"


def _json_arg(text: str | None, name: str) -> dict | None:
    if text is None:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise click.BadParameter(f"ugyldig JSON: {error}", param_hint=name) from None
    if not isinstance(value, dict):
        raise click.BadParameter("må være et JSON-objekt", param_hint=name)
    return value


def _when(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter("bruk ISO 8601, f.eks. 2027-01-15T09:00:00+01:00", param_hint="--now") from None
    if moment.tzinfo is None:
        raise click.BadParameter("tidspunktet må ha UTC-forskyvning (f.eks. +01:00)", param_hint="--now")
    return moment


@click.group()
@click.option("--json", "as_json", is_flag=True, help="Skriv resultatet som JSON.")
@click.pass_context
def main(ctx, as_json):
    """Orkestrering av koordineringsrutiner (BPMN)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("spiff", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    ctx.obj = Cli(as_json)


# --- db -------------------------------------------------------------------------------------
@main.group()
def db():
    """Databasen."""


@command(db, "upgrade")
def db_upgrade(cli: Cli):
    """Opprett eller oppgrader databasen (Alembic)."""
    migrate.upgrade(cli.orc.db)
    cli.out({"revision": migrate.current(cli.orc.db)}, lambda v: click.echo(f"Databasen er på versjon {v['revision']}."))


# --- deploy ---------------------------------------------------------------------------------
@command(main, "deploy")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--as", "username", help="Rull ut som denne brukeren (må være prosesseier).")
@click.option("--force", is_flag=True,
              help="Erstatt også versjoner som ble laget i nettleseren etter at filene sist ble rullet ut.")
def deploy_cmd(cli: Cli, paths, username, force):
    """Rull ut BPMN-, DMN- og skjemafiler (filer eller mapper) som nye versjoner."""
    actor = cli.actor(username, access.Actor("cli", frozenset({access.PROCESS_OWNER}), system=True))
    results = deployment.deploy(cli.orc, deployment.collect_files(list(paths)), actor, force=force)

    def human(items):
        for d in items:
            state = "ny versjon" if d.changed else ("hoppet over" if d.note else "uendret")
            click.echo(f"{d.kind:5} {d.key:40} v{d.version:<4} {state}  ({d.filename})")
        for d in items:
            if d.note:
                click.echo(f"Advarsel: {d.filename}: {d.note}", err=True)

    cli.out(results, human)


@command(main, "export")
@click.argument("directory", type=click.Path(file_okay=False))
@click.option("--as", "username", help="Eksporter som denne brukeren (må være prosesseier).")
def export_cmd(cli: Cli, directory, username):
    """Skriv nyeste versjon av alle prosesser, tabeller og skjemaer til DIR/processes og DIR/forms."""

    from .services import export

    actor = cli.actor(username, access.Actor("cli", frozenset({access.PROCESS_OWNER}), system=True))
    written = []
    for item in export.newest_files(cli.orc, actor):
        target = Path(directory) / item.path
        target.parent.mkdir(parents=True, exist_ok=True)
        changed = not target.exists() or target.read_bytes() != item.content
        if changed:
            target.write_bytes(item.content)
        written.append({"path": str(target), "key": item.key, "version": item.version,
                        "origin": item.origin, "changed": changed})

    def human(items):
        for w in items:
            click.echo(f"{'skrevet ' if w['changed'] else 'uendret '} {w['path']}  ({w['key']} v{w['version']})")

    cli.out(written, human)


@command(main, "migrate")
@click.argument("key")
@click.option("--to", "version", required=True, type=int, help="Versjonen sakene skal flyttes til.")
@click.option("--dry-run", is_flag=True, help="Vis hva som ville skjedd med hver sak; ingenting endres.")
@click.option("--map", "mappings", multiple=True, metavar="GAMMEL=NY",
              help="Koble et element som har fått ny id (kan gjentas).")
@click.option("--instance", "instance_ids", multiple=True, type=int, help="Bare denne saken (kan gjentas).")
@click.option("--as", "username", help="Som denne brukeren (må være prosesseier).")
def migrate_cmd(cli: Cli, key, version, dry_run, mappings, instance_ids, username):
    """Flytt saker i gang på eldre versjoner av KEY til versjon --to (bare de som lar seg flytte)."""
    from .services import migration

    actor = cli.actor(username, access.Actor("cli", frozenset({access.PROCESS_OWNER}), system=True))
    mapping = dict(_mapping_arg(m) for m in mappings)
    chosen = list(instance_ids) or None
    if dry_run:
        result = migration.plan(cli.orc, key, version, actor, mapping, chosen)
    else:
        result = migration.migrate(cli.orc, key, version, actor, chosen, mapping)

    def human(r):
        for i in r.instances:
            state = ("flyttet" if i.moved else "kan flyttes") if i.movable else "avvist"
            click.echo(f"sak {i.business_key or '-'} (instans {i.instance_id}) v{i.from_version} -> v{r.target_version}: {state}")
            for t in i.timers:
                if t.before != t.after:
                    click.echo(f"  tidtaker {t.element_id}: {_iso_or_dash(t.before)} -> {_iso_or_dash(t.after)}")
            for line in [*i.refusals, *i.notes]:
                click.echo(f"  {line}")
            for need in i.missing_data:
                click.echo(f"  mangler «{need.name}», som «{need.element_name or need.element_id}» bruker ({need.what})")
        for u in r.unmapped:
            hint = f"; forslag: --map {u.element_id}={u.suggestion}" if u.suggestion else ""
            click.echo(f"uten mål i v{r.target_version}: {u.element_id} ({u.instances} sak(er)){hint}")
        verb = "kan flyttes" if r.dry_run else "flyttet"
        click.echo(f"{r.moved if not r.dry_run else r.movable} {verb}, {r.refused} avvist.")

    cli.out(result, human)
    if not dry_run and result.refused:
        sys.exit(1)


def _mapping_arg(text: str) -> tuple[str, str]:
    old, sep, new = text.partition("=")
    if not sep or not old.strip() or not new.strip():
        raise click.BadParameter("skriv GAMMEL_ID=NY_ID", param_hint="--map")
    return old.strip(), new.strip()


def _iso_or_dash(moment) -> str:
    return moment.isoformat() if moment is not None else "-"


# --- retention ------------------------------------------------------------------------------
@command(main, "retention")
@click.option("--dry-run", is_flag=True, help="Vis nøyaktig hva som ville blitt slettet; ingenting endres.")
@click.option("--now", "now_text", help="Regn oppbevaringstiden per dette tidspunktet (ISO 8601).")
@click.option("--as", "username", help="Som denne brukeren (leder med innsyn); står i revisjonssporet.")
def retention_cmd(cli: Cli, dry_run, now_text, username):
    """Slett og anonymiser det som har passert oppbevaringstiden (avsluttede saker, e-postinnhold,
    revisjonsdata, tilgangslogg). Saker med slettesperre hoppes over."""
    from .services import retention

    actor = cli.actor(username, access.Actor("cli", frozenset({access.MANAGER}), system=True))
    with clock.frozen(_when(now_text) or clock.now()):
        report = retention.run(cli.orc, actor, dry_run=dry_run)

    def human(r):
        click.echo(("Tørrkjøring: ingenting er endret. " if r.dry_run else "") + f"Per {r.at.isoformat()}:")
        for k in r.kinds:
            period = f"{k.days} dager" if k.days else "ingen tidsgrense"
            click.echo(f"{k.label} ({period}):")
            if k.note:
                click.echo(f"  {k.note}")
            for table, count in k.rows.items():
                click.echo(f"  {table}: {count} rad(er) {'ville blitt ' if r.dry_run else ''}"
                           f"{'slettet' if k.kind in (retention.CASES, retention.ACCESS_LOG) else 'tømt'}")
            if k.business_keys:
                click.echo(f"  saker: {', '.join(k.business_keys)}")
            if k.kind == retention.CASES and k.instances:
                click.echo(f"  instanser: {', '.join(str(i) for i in k.instances)}")
            if k.ids:
                click.echo(f"  rader: {', '.join(str(i) for i in k.ids)}")
            if k.held:
                click.echo(f"  hoppet over (slettesperre): {', '.join(k.held)}")

    cli.out(report, human)


@main.group("slettesperre")
def holds_group():
    """Slettesperre: saker som ikke skal slettes etter oppbevaringstiden."""


@command(holds_group, "add")
@click.argument("business_key")
@click.option("--reason", required=True, help="Hvorfor saken må beholdes (klage, tilsyn, krav …).")
@click.option("--as", "username", required=True, help="Brukeren som setter sperren (leder eller koordinerende enhet).")
def holds_add(cli: Cli, business_key, reason, username):
    """Sperr saken BUSINESS_KEY mot sletting."""
    from .services import slettesperre

    hold = slettesperre.place(cli.orc, cli.actor(username), business_key, reason)
    cli.out(hold, lambda h: click.echo(f"Sak {h.business_key} har slettesperre (satt av {h.placed_by})."))


@command(holds_group, "remove")
@click.argument("business_key")
@click.option("--as", "username", required=True, help="Brukeren som opphever sperren.")
def holds_remove(cli: Cli, business_key, username):
    """Opphev slettesperren: saken følger oppbevaringstiden igjen."""
    from .services import slettesperre

    slettesperre.lift(cli.orc, cli.actor(username), business_key)
    cli.out({"business_key": business_key, "sperret": False},
            lambda v: click.echo(f"Slettesperren på sak {v['business_key']} er opphevet."))


@command(holds_group, "list")
def holds_list(cli: Cli):
    """Vis sakene med slettesperre: hvorfor, hvem og når."""
    from .services import slettesperre

    holds = slettesperre.list_holds(cli.orc, access.SYSTEM)

    def human(items):
        for h in items:
            click.echo(f"{h.business_key:20} {h.placed_at.isoformat(timespec='minutes')}  {h.placed_by:12} {h.reason}")
        if not items:
            click.echo("Ingen saker har slettesperre.")

    cli.out(holds, human)


# --- serve / worker -------------------------------------------------------------------------
@main.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--no-worker", is_flag=True, help="Ikke kjør tidtakeren i samme prosess.")
def serve(host, port, no_worker):
    """Start webserveren (med tidtakeren i samme prosess)."""
    from werkzeug.serving import run_simple

    from .services.worker import WorkerThread
    from .web.app import create_app

    app = create_app()
    if not no_worker:
        app.extensions["worker"] = WorkerThread(app.extensions["orchestrator"]).start()
    click.echo(f"Orkestratoren kjører på http://{host}:{port}/ (Ctrl+C for å stoppe)")
    run_simple(host, port, app, threaded=True, use_reloader=False)


@main.command("worker")
def worker_cmd():
    """Kjør tidtakeren (og utsendinger) som egen prosess."""
    import signal
    import threading

    from .services.worker import Worker

    orc = bootstrap.build(Settings.from_env())
    stop = threading.Event()

    def shut_down(*_):
        stop.set()
        orc.signal.notify()  # wake it if it sleeps; a busy one stops after its item

    signal.signal(signal.SIGTERM, shut_down)
    signal.signal(signal.SIGINT, shut_down)
    Worker(orc).run(stop)


# --- demo -----------------------------------------------------------------------------------
@command(main, "demo")
@click.option("--if-empty", is_flag=True, help="Bare på en installasjon uten saker (det `make run` gjør).")
def demo_cmd(cli: Cli, if_empty):
    """Lag demosaker med fiktive personer i ulike tilstander, så demobrukerne finner arbeid, frister og utsendinger."""
    from .services import demo

    made = demo.seed(cli.orc, if_empty=if_empty)

    def human(items):
        if not items:
            click.echo("Ingen demosaker laget: installasjonen har saker fra før.")
        for item in items:
            click.echo(f"Sak {item.business_key}: {item.what}")

    cli.out(made, human)


# --- timers ---------------------------------------------------------------------------------
@main.group("timers")
def timers_group():
    """Tidtakere."""


@command(timers_group, "fire")
@click.option("--now", "now_text", help="Fyr alt som er forfalt per dette tidspunktet (ISO 8601).")
def timers_fire(cli: Cli, now_text):
    """Fyr alle forfalte tidtakere nå (eller per --now), send utsendinger som da er forfalt, og vis hva som skjedde."""
    from .services.worker import Worker

    moment = _when(now_text) or clock.now()
    with clock.frozen(moment):
        done = Worker(cli.orc).run_pass()
    from .services.notices.delivery import Delivered

    fired = [item for item in done if isinstance(item, timers.Fired)]
    notices = [item for item in done if isinstance(item, Delivered)]

    def human(items):
        if not items["fired"]:
            click.echo(f"Ingenting forfalt per {moment.isoformat()}.")
        for f in items["fired"]:
            if f.retry_at is not None:
                status = f"FEILET, prøves igjen {moment_text(f.retry_at)}: {f.error}"
            elif f.error:
                status = f"STOPPET PÅ FEIL: {f.error}"
            else:
                status = ", ".join(f.names or f.elements)
            click.echo(f"sak {f.business_key or '-'} (instans {f.instance_id}): {status}")
        if items["notices"]:
            click.echo(f"{len(items['notices'])} utsending(er) behandlet (se Utsendinger).")

    cli.out({"fired": fired, "notices": notices}, human)


# --- instances ------------------------------------------------------------------------------
@main.group("instances")
def instances_group():
    """Prosessinstanser."""


@command(instances_group, "start")
@click.argument("key")
@click.option("--business-key", help="Sakens saksnummer, påkrevd (f.eks. 2027/1234; aldri fødselsnummer).")
@click.option("--data", "data_text", help="Startdata som JSON-objekt.")
@click.option("--as", "username", help="Start som denne brukeren.")
def instances_start(cli: Cli, key, business_key, data_text, username):
    """Start en instans av prosessen KEY."""
    result = instances.start(cli.orc, key, cli.actor(username), business_key, _json_arg(data_text, "--data"))
    cli.out(result, lambda r: click.echo(f"Startet sak {r.business_key or '-'} (instans {r.id}): "
                                         f"{r.process_name or r.process_key} versjon {r.process_version}. "
                                         f"{status_sentence(r.status)}"))


@command(instances_group, "resume")
@click.argument("instance_id", type=int)
@click.option("--as", "username", help="Som denne brukeren (leder med innsyn eller prosesseier).")
def instances_resume(cli: Cli, instance_id, username):
    """Start en sak som har stoppet på en feil igjen, når årsaken er rettet."""
    result = instances.resume(cli.orc, instance_id, cli.actor(username))
    cli.out(result, lambda r: click.echo(f"Sak {r.business_key or '-'} (instans {r.id}) kjører igjen."))


@command(instances_group, "list")
@click.option("--process", "process_key")
@click.option("--status", type=click.Choice(instances.STATUSES))
@click.option("--business-key")
@click.option("--page", default=1, type=int)
@click.option("--as", "username")
def instances_list(cli: Cli, process_key, status, business_key, page, username):
    """List instanser."""
    result = instances.list_instances(cli.orc, cli.actor(username), process_key, status, business_key, page=page)

    def human(p):
        for i in p.items:
            timer = f" neste tidsfrist {moment_text(i.next_timer_at)}" if i.next_timer_at else ""
            click.echo(f"{i.id:6} {i.process_name or i.process_key:48} v{i.process_version:<3} {status_name(i.status):16} "
                       f"sak {i.business_key or '-'}{timer}")
        click.echo(f"({p.total} i alt, side {p.page})")

    cli.out(result, human)


@command(instances_group, "show")
@click.argument("instance_id", type=int)
@click.option("--as", "username")
def instances_show(cli: Cli, instance_id, username):
    """Vis en instans: status, data, åpne oppgaver, tidtakere og historikk."""
    detail = instances.get(cli.orc, instance_id, cli.actor(username))

    def human(d):
        click.echo(f"Sak {d.business_key or '-'} (instans {d.id}): {d.process_name or d.process_key} "
                   f"versjon {d.process_version}. {status_name(d.status)}.")
        for t in d.tasks:
            due = moment_text(t["due_at"]) if t["due_at"] else "-"
            click.echo(f"  oppgave {t['id']}  {t['name']} [{role_name(t['role'])}] frist {due}")
        for t in d.timers:
            click.echo(f"  tidsfrist: {t['name'] or 'tidsfrist'} {moment_text(t['due_at'])}")
        for waiting in d.waiting_for:
            click.echo(f"  venter på melding: {waiting}")
        if d.case_data:
            click.echo("  Opplysninger i saken:")
        for item in d.case_data:
            sep = " " if item.label.endswith("?") else ": "
            click.echo(f"    {item.label}{sep}{item.text}" if item.text else f"    {item.label}")
            for line in item.lines:
                click.echo(f"      - {line}")
        for h in d.history:
            step = f" – {h['element_name']}" if h["element_name"] else ""
            click.echo(f"  {moment_text(h['at'])} {h['actor'] or '-'}: {action_name(h['action'])}{step}")

    cli.out(detail, human)


@command(main, "innsyn")
@click.argument("business_key")
@click.option("--out", "folder", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Mappen dokumentet og JSON-filen skrives til.")
@click.option("--as", "username", help="Lederen som lager uttrekket (ellers systemet, med din brukerkonto i loggen).")
def innsyn_cmd(cli: Cli, business_key, folder, username):
    """Alt som er lagret om personen i saken SAKSNUMMER, som utskrivbart HTML-dokument og JSON (innsynskrav)."""
    found = innsyn.make(cli.orc, business_key, cli.actor(username))
    written = innsyn.write(found, folder)

    def human(paths):
        click.echo(f"Innsyn i sak {found.business_key}: {len(found.processes)} prosesser, {len(found.notices)} "
                   f"e-poster, {len(found.reads)} oppslag i tilgangsloggen.")
        for path in paths:
            click.echo(f"  {path}")

    cli.out([str(p) for p in written], human)


# --- tasks ----------------------------------------------------------------------------------
@main.group("tasks")
def tasks_group():
    """Oppgaver."""


@command(tasks_group, "list")
@click.option("--role", help="Vis køen til denne rollen.")
@click.option("--as", "username", help="Vis oppgavene til denne brukeren.")
@click.option("--page", default=1, type=int)
def tasks_list(cli: Cli, role, username, page):
    """List åpne oppgaver."""
    if username:
        actor = cli.actor(username)
    elif role:
        actor = access.Actor(f"rolle:{role}", frozenset({role}))
    else:
        actor = access.Actor("cli", frozenset(access.ALL_ROLES))
    result = tasks.list_tasks(cli.orc, actor, scope="roles", page=page)

    def human(p):
        for t in p.items:
            due = moment_text(t.due_at) if t.due_at else "-"
            flag = " FORFALT" if t.overdue else ""
            click.echo(f"{t.id}  {t.name} [{role_name(t.role)}] instans {t.instance_id} sak {t.business_key or '-'} frist {due}{flag}")
        click.echo(f"({p.total} i alt)")

    cli.out(result, human)


@command(tasks_group, "complete")
@click.argument("task_id")
@click.option("--data", "data_text", default="{}", help="Skjemadata som JSON-objekt.")
@click.option("--as", "username", required=True, help="Brukeren som utfører oppgaven.")
def tasks_complete(cli: Cli, task_id, data_text, username):
    """Fullfør en oppgave med skjemadata."""
    result = tasks.complete(cli.orc, task_id, _json_arg(data_text, "--data"), cli.actor(username))

    def human(r):
        click.echo(f"Oppgaven er fullført (instans {r.instance_id}). {status_sentence(r.instance_status)}")
        for t in r.next_tasks:
            click.echo(f"  neste: {t.id}  {t.name} [{role_name(t.role)}]")

    cli.out(result, human)


# --- messages -------------------------------------------------------------------------------
@main.group("messages")
def messages_group():
    """Meldinger."""


@command(messages_group, "send")
@click.argument("name")
@click.option("--business-key", required=True)
@click.option("--data", "data_text")
@click.option("--as", "username")
def messages_send(cli: Cli, name, business_key, data_text, username):
    """Send meldingen NAME til saken (eller start en prosess på den)."""
    result = messages.send(cli.orc, name, business_key, _json_arg(data_text, "--data"), cli.actor(username))

    def human(items):
        for d in items:
            what = "startet en ny prosess i saken" if d.started else "levert til saken"
            click.echo(f"Meldingen er {what} (sak {business_key}, instans {d.instance_id}).")

    cli.out(result, human)


# --- users and tokens -----------------------------------------------------------------------
@main.group("users")
def users_group():
    """Brukere."""


def _services_option(fn):
    return click.option("--service", "services", multiple=True, metavar="TJENESTE",
                        help="Tjeneste brukeren hører til (skole, ppt, nav …; kan gjentas). Se `orchestrator services list`.")(fn)


ROLE_HELP = ", ".join(f"{key} = {role_name(key)}" for key in access.ALL_ROLES)


def _user_line(cli: Cli, u) -> str:
    state = "" if u.active else "  (deaktivert)"
    names = tjenester.catalogue(cli.orc.settings).names
    services = f"  tjenester: {', '.join(names.get(s, s) for s in u.services)}" if u.services else ""
    return f"{u.username:16} {roles_text(u.roles)}{services}{state}"


@command(users_group, "add")
@click.argument("username")
@click.option("--role", "roles", multiple=True, required=True, type=click.Choice(access.ALL_ROLES),
              help=f"Rolle (kan gjentas): {ROLE_HELP}.")
@_services_option
@click.option("--password-stdin", is_flag=True, help="Les passordet fra standard inn.")
@click.option("--name", "display_name")
@click.option("--email")
def users_add(cli: Cli, username, roles, services, password_stdin, display_name, email):
    """Legg til en bruker med roller og tjenester."""
    password = sys.stdin.readline().rstrip("\n") if password_stdin else None
    result = users.add(cli.orc, username, list(roles), password, display_name, email, services=list(services))
    cli.out(result, lambda u: click.echo(f"La til {_user_line(cli, u)}"))


@command(users_group, "update")
@click.argument("username")
@click.option("--role", "roles", multiple=True, type=click.Choice(access.ALL_ROLES),
              help=f"Erstatt rollene med disse (kan gjentas): {ROLE_HELP}.")
@_services_option
@click.option("--no-services", is_flag=True, help="Ta brukeren ut av alle tjenester.")
def users_update(cli: Cli, username, roles, services, no_services):
    """Endre en brukers roller og/eller tjenester; gjelder fra neste forespørsel."""
    if services and no_services:
        raise click.UsageError("--service og --no-services kan ikke brukes sammen")
    result = users.update(cli.orc, username, roles=list(roles) or None,
                          services=[] if no_services else (list(services) or None))
    cli.out(result, lambda u: click.echo(f"Endret {_user_line(cli, u)}"))


@command(users_group, "deactivate")
@click.argument("username")
def users_deactivate(cli: Cli, username):
    """Deaktiver en bruker: innloggingene og API-nøklene slutter å virke med en gang."""
    result = users.set_active(cli.orc, username, False)
    cli.out(result, lambda u: click.echo(f"{u.username} er deaktivert; innlogginger avsluttet og API-nøkler trukket tilbake."))


@command(users_group, "activate")
@click.argument("username")
def users_activate(cli: Cli, username):
    """Aktiver en deaktivert bruker igjen (gamle innlogginger og API-nøkler kommer ikke tilbake)."""
    result = users.set_active(cli.orc, username, True)
    cli.out(result, lambda u: click.echo(f"{u.username} er aktiv igjen."))


@command(users_group, "list")
def users_list(cli: Cli):
    """List brukere med roller, tjenester og om de er aktive."""
    result = users.list_users(cli.orc)
    cli.out(result, lambda us: [click.echo(_user_line(cli, u)) for u in us])


@command(users_group, "bootstrap")
def users_bootstrap(cli: Cli):
    """Lag én demobruker per rolle på en tom installasjon, og vis innloggingene."""
    creds = users.bootstrap(cli.orc, cli.orc.settings.var_dir / "demo-brukere.txt")

    def human(items):
        if not items:
            click.echo("Brukere finnes allerede.")
            return
        click.echo("Innlogging (brukernavn / passord / roller), lagret i var/demo-brukere.txt:")
        for username, password, roles in items:
            click.echo(f"  {username:8} {password:16} {roles_text(roles)}")

    cli.out([{"username": u, "password": p, "roles": r} for u, p, r in creds], lambda _: human(creds))


@main.group("services")
def services_group():
    """Tjenestene (skole, PPT, NAV …) brukere kan høre til."""


@command(services_group, "list")
def services_list(cli: Cli):
    """Vis installasjonens tjenester (nøkkel og navn) og hvor listen er hentet fra."""
    catalogue = tjenester.catalogue(cli.orc.settings)

    def human(c):
        click.echo(f"Tjenester (fra {c.source}):")
        for key, name in c.names.items():
            click.echo(f"  {key:24} {name}")

    cli.out(catalogue, human)


@main.group("tokens")
def tokens_group():
    """API-nøkler."""


@command(tokens_group, "create")
@click.argument("username")
@click.option("--label", help="Hva nøkkelen brukes til.")
@click.option("--expires-in-days", type=int, help="Levetid i dager (standard ORCHESTRATOR_TOKEN_DAYS, 90).")
def tokens_create(cli: Cli, username, label, expires_in_days):
    """Lag en API-nøkkel (bearer token) for brukeren; den vises bare nå."""
    token = tokens.create(cli.orc, username, label, expires_in_days)
    cli.out({"username": username, "token": token}, lambda v: click.echo(v["token"]))


@command(tokens_group, "list")
@click.argument("username", required=False)
def tokens_list(cli: Cli, username):
    """List API-nøkler (alle, eller brukerens): merkelapp, laget, sist brukt, utløper, status. Aldri selve nøkkelen."""
    result = tokens.list_tokens(cli.orc, access.SYSTEM, username)

    def human(items):
        for t in items:
            used = t.last_used_at.isoformat(timespec="minutes") if t.last_used_at else "aldri"
            click.echo(f"{t.id:5} {t.username:16} {t.label or '–':24} laget {t.created_at.isoformat(timespec='minutes')}"
                       f"  sist brukt {used}  utløper {t.expires_at.isoformat(timespec='minutes')}  {t.status}")
        if not items:
            click.echo("Ingen API-nøkler.")

    cli.out(result, human)


@command(tokens_group, "revoke")
@click.argument("token_id", type=int)
def tokens_revoke(cli: Cli, token_id):
    """Trekk tilbake API-nøkkelen med dette nummeret (fra `tokens list`); virker med en gang."""
    result = tokens.revoke(cli.orc, access.SYSTEM, token_id)
    cli.out(result, lambda t: click.echo(f"API-nøkkel {t.id} ({t.username}, {t.label or 'uten merkelapp'}) er trukket tilbake."))


if __name__ == "__main__":  # pragma: no cover
    main()
