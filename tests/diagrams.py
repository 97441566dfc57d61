"""The engine's test diagram set, written with tests/bpmnbuilder.py.

Each function returns (filename, xml) for `deploy`; forms are returned the same way.
"""
from __future__ import annotations

import json

from bpmnbuilder import Process

TY, KE, LEDER = "Tjenesteyter", "Koordinerende enhet", "Leder"


def form(key: str, *components) -> tuple[str, str]:
    return f"{key}.form", json.dumps({"type": "default", "id": key, "components": list(components)})


def text_field(key, label=None, required=True, **validate):
    return {"type": "textfield", "key": key, "label": label or key, "validate": {"required": required, **validate}}


def choice(key, values, required=True):
    return {"type": "radio", "key": key, "label": key, "values": [{"label": v, "value": v} for v in values],
            "validate": {"required": required}}


def date_time(key, required=True):
    return {"type": "datetime", "subtype": "datetime", "key": key, "label": key, "validate": {"required": required}}


def user_task_with_gateway():
    """Vurdering -> ja: oppfølging (KE) / nei: dokumentert slutt."""
    p = Process("test_gateway", "Test: vurdering med port", lanes=[TY, KE])
    p.start("start", "Start", lane=TY)
    p.user("vurder", "Vurder behov", lane=TY, form="test_vurdering")
    p.xor("behov", "Behov?", lane=TY)
    p.user("folg_opp", "Følg opp", lane=KE)
    p.end("slutt_ja", "Fulgt opp", lane=KE)
    p.end("slutt_nei", "Ikke behov", lane=TY)
    p.chain("start", "vurder", "behov")
    p.flow("behov", "folg_opp", name="Ja", condition='behov == "ja"')
    p.flow("behov", "slutt_nei", name="Nei", default=True)
    p.chain("folg_opp", "slutt_ja")
    return [("test_gateway.bpmn", p.to_xml()),
            form("test_vurdering", choice("behov", ["ja", "nei"]), text_field("begrunnelse"))]


def service_task():
    """A tjenesteyter task in the queue of the service the case data names (samarbeid step 3 style)."""
    p = Process("test_tjeneste", "Test: oppgave i en tjenestes kø", lanes=[TY])
    p.start("start", "Start", lane=TY)
    p.and_("del", "Del", lane=TY)
    p.user("vurder", "Vurder behov", lane=TY, form="test_vurdering", service="${tjeneste}")
    p.catch("vent", "Vent på signal", lane=TY, message="test_tjeneste_signal")
    p.end("slutt_a", "Vurdert", lane=TY)
    p.end("slutt_b", "Signal mottatt", lane=TY)
    p.chain("start", "del", "vurder", "slutt_a")
    p.chain("del", "vent", "slutt_b")
    return [("test_tjeneste.bpmn", p.to_xml())]


def called_process():
    """A called process without lanes: its task takes the caller's lane."""
    child = Process("test_barn", "Test: kalt prosess")
    child.start("c_start", "Start")
    child.user("c_oppgave", "Oppgave i kalt prosess")
    child.end("c_slutt", "Slutt")
    child.chain("c_start", "c_oppgave", "c_slutt")
    parent = Process("test_forelder", "Test: kaller", lanes=[KE])
    parent.start("start", "Start", lane=KE)
    parent.call("kall", "Kall barneprosess", called="test_barn", lane=KE)
    parent.user("etter", "Etter kallet", lane=KE)
    parent.end("slutt", "Slutt", lane=KE)
    parent.chain("start", "kall", "etter", "slutt")
    return [("test_barn.bpmn", child.to_xml()), ("test_forelder.bpmn", parent.to_xml())]


def multi_instance():
    """One contact task per service (steg 3 style)."""
    p = Process("test_multi", "Test: én oppgave per tjeneste", lanes=[TY])
    p.start("start", "Start", lane=TY)
    p.user("kontakt", "Opprett kontakt", lane=TY, form="test_kontakt")
    p.multi("kontakt", collection="tjenester", element="tjeneste")
    p.user("oppsummer", "Oppsummer", lane=TY)
    p.end("slutt", "Slutt", lane=TY)
    p.chain("start", "kontakt", "oppsummer", "slutt")
    group = {"type": "group", "path": "tjeneste", "label": "Tjeneste",
             "components": [text_field("kontaktperson", "Kontaktperson")]}
    return [("test_multi.bpmn", p.to_xml()), form("test_kontakt", group)]


DMN = """<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" id="test_regler" name="Test-regler"
  namespace="http://camunda.org/schema/1.0/dmn">
  <decision id="test_alder" name="Aldersgruppe">
    <decisionTable id="tabell" hitPolicy="FIRST">
      <input id="i1" label="Alder"><inputExpression id="ie1" typeRef="number"><text>alder</text></inputExpression></input>
      <input id="i2" label="Venter barn"><inputExpression id="ie2" typeRef="boolean"><text>venter_barn</text></inputExpression></input>
      <output id="o1" label="Gruppe" name="gruppe" typeRef="string" />
      <rule id="r1"><inputEntry id="r1a"><text>-</text></inputEntry><inputEntry id="r1b"><text>true</text></inputEntry><outputEntry id="r1o"><text>"barn"</text></outputEntry></rule>
      <rule id="r2"><inputEntry id="r2a"><text>&lt; 18</text></inputEntry><inputEntry id="r2b"><text>-</text></inputEntry><outputEntry id="r2o"><text>"barn"</text></outputEntry></rule>
      <rule id="r3"><inputEntry id="r3a"><text>&gt;= 18</text></inputEntry><inputEntry id="r3b"><text>-</text></inputEntry><outputEntry id="r3o"><text>"voksen"</text></outputEntry></rule>
    </decisionTable>
  </decision>
</definitions>
"""


def business_rule():
    p = Process("test_dmn", "Test: beslutningstabell", lanes=[KE])
    p.start("start", "Start", lane=KE)
    p.rule("regel", "Finn aldersgruppe", decision="test_alder", lane=KE)
    p.xor("gruppe", "Gruppe?", lane=KE)
    p.user("barn", "Barnesak", lane=KE)
    p.user("voksen", "Voksensak", lane=KE)
    p.end("slutt_b", "Slutt", lane=KE)
    p.end("slutt_v", "Slutt", lane=KE)
    p.chain("start", "regel", "gruppe")
    p.flow("gruppe", "barn", name="Barn", condition='gruppe == "barn"')
    p.flow("gruppe", "voksen", name="Voksen", default=True)
    p.chain("barn", "slutt_b")
    p.chain("voksen", "slutt_v")
    return [("test_regler.dmn", DMN), ("test_dmn.bpmn", p.to_xml())]


def timers(date_expr="2027-02-01T09:00:00+01:00", duration="P14D", cycle="R3/PT1H"):
    """A date timer, then a duration timer, then a user task with a cycle reminder."""
    p = Process("test_tidtakere", "Test: tidtakere", lanes=[TY, LEDER])
    p.start("start", "Start", lane=TY)
    p.catch("dato", "Fast dato", lane=TY, timer=("timeDate", date_expr))
    p.catch("varighet", "Etter en periode", lane=TY, timer=("timeDuration", duration))
    p.user("arbeid", "Gjør arbeidet", lane=TY)
    p.boundary("paminn", "Påminnelse", attached_to="arbeid", timer=("timeCycle", cycle), interrupting=False)
    p.user("purring", "Purring", lane=LEDER)
    p.end("slutt", "Slutt", lane=TY)
    p.end("purret", "Purret", lane=LEDER)
    p.chain("start", "dato", "varighet", "arbeid", "slutt")
    p.chain("paminn", "purring", "purret")
    return [("test_tidtakere.bpmn", p.to_xml())]


def boundary_timers():
    """Interrupting deadline on one task, non-interrupting escalation on the other."""
    p = Process("test_grense", "Test: grensetidtakere", lanes=[TY, LEDER])
    p.start("start", "Start", lane=TY)
    p.user("svar", "Svar innen fristen", lane=TY)
    p.boundary("frist", "Frist ute", attached_to="svar", timer=("timeDuration", "P14D"))
    p.user("behandle", "Behandle", lane=TY)
    p.boundary("eskaler", "Eskaler", attached_to="behandle", timer=("timeDuration", "P7D"), interrupting=False)
    p.user("varslet", "Leder varslet", lane=LEDER)
    p.user("for_sent", "Frist oversittet", lane=LEDER)
    p.end("slutt", "Slutt", lane=TY)
    p.end("slutt_sent", "For sent", lane=LEDER)
    p.end("slutt_varslet", "Varslet", lane=LEDER)
    p.chain("start", "svar", "behandle", "slutt")
    p.chain("frist", "for_sent", "slutt_sent")
    p.chain("eskaler", "varslet", "slutt_varslet")
    return [("test_grense.bpmn", p.to_xml())]


def messages():
    """test_mottak starts on «test_melding»; it then waits for «test_svar»; test_avsender throws.

    What a message may carry from outside is the form of the event that catches it.
    """
    receiver = Process("test_mottak", "Test: mottak", lanes=[KE])
    receiver.start("start", "Melding mottatt", lane=KE, message="test_melding", form="test_melding_skjema")
    receiver.user("behandle", "Behandle melding", lane=KE)
    receiver.catch("vent_svar", "Vent på svar", lane=KE, message="test_svar")
    receiver.user("etter_svar", "Etter svar", lane=KE)
    receiver.end("slutt", "Slutt", lane=KE)
    receiver.chain("start", "behandle", "vent_svar", "etter_svar", "slutt")
    sender = Process("test_avsender", "Test: avsender", lanes=[TY])
    sender.start("start", "Start", lane=TY)
    sender.user("skriv", "Skriv melding", lane=TY, form="test_melding_skjema")
    sender.end("send", "Send melding", lane=TY, message="test_melding", payload={"tekst": "tekst"})
    sender.chain("start", "skriv", "send")
    receiver_xml = receiver.to_xml().replace(
        '<bpmn:intermediateCatchEvent id="vent_svar" name="Vent på svar"',
        '<bpmn:intermediateCatchEvent id="vent_svar" name="Vent på svar" camunda:formKey="test_svar_skjema"')
    assert "test_svar_skjema" in receiver_xml
    return [("test_mottak.bpmn", receiver_xml), ("test_avsender.bpmn", sender.to_xml()),
            form("test_melding_skjema", text_field("tekst", required=False)),
            form("test_svar_skjema", text_field("svar", required=False))]


def script(code: str, key="test_skript"):
    p = Process(key, "Test: skript", lanes=[TY])
    p.start("start", "Start", lane=TY)
    p.script("skript", "Regn ut", code, lane=TY)
    p.user("se", "Se resultat", lane=TY)
    p.end("slutt", "Slutt", lane=TY)
    p.chain("start", "skript", "se", "slutt")
    return [(f"{key}.bpmn", p.to_xml())]


def condition(expression: str, key="test_betingelse"):
    p = Process(key, "Test: betingelse", lanes=[TY])
    p.start("start", "Start", lane=TY)
    p.xor("port", "Port", lane=TY)
    p.user("a", "A", lane=TY)
    p.user("b", "B", lane=TY)
    p.end("slutt_a", "Slutt", lane=TY)
    p.end("slutt_b", "Slutt", lane=TY)
    p.chain("start", "port")
    p.flow("port", "a", name="A", condition=expression)
    p.flow("port", "b", name="B", default=True)
    p.chain("a", "slutt_a")
    p.chain("b", "slutt_b")
    return [(f"{key}.bpmn", p.to_xml())]


def timer_expression(expression: str, key="test_tidsuttrykk"):
    p = Process(key, "Test: tidsuttrykk", lanes=[TY])
    p.start("start", "Start", lane=TY)
    p.catch("vent", "Vent", lane=TY, timer=("timeDate", expression))
    p.end("slutt", "Slutt", lane=TY)
    p.chain("start", "vent", "slutt")
    return [(f"{key}.bpmn", p.to_xml())]


def fourteen_days_before_meeting():
    """The engine-room done-when diagram: a 14-day timer before an agreed meeting."""
    p = Process("test_fjorten_dager", "Test: innkalling 14 dager før møtet", lanes=[TY])
    p.start("start", "Start", lane=TY)
    p.user("avtal", "Avtal møte", lane=TY, form="test_moete")
    p.catch("vent", "14 dager før møtet", lane=TY, timer=("timeDate", "iso(subtract_days(moetetid, 14))"))
    p.user("send", "Send innkalling", lane=TY)
    p.end("slutt", "Innkalling sendt", lane=TY)
    p.chain("start", "avtal", "vent", "send", "slutt")
    return [("test_fjorten_dager.bpmn", p.to_xml()), form("test_moete", date_time("moetetid"))]


def failing_timer(code: str = "svar = 1 / 0"):
    """A user task, a message wait and a timer in parallel; the timer's path runs a script that fails."""
    p = Process("test_feilende_tidtaker", "Test: tidtaker som feiler", lanes=[TY])
    p.start("start", "Start", lane=TY)
    p.and_("del", "Del", lane=TY)
    p.user("arbeid", "Gjør arbeidet", lane=TY)
    p.catch("frist", "Frist", lane=TY, timer=("timeDuration", "P1D"))
    p.script("regn", "Regn ut", code, lane=TY)
    p.catch("svar", "Vent på svar", lane=TY, message="test_svar")
    p.end("slutt_arbeid", "Ferdig", lane=TY)
    p.end("slutt_frist", "Fristen gikk ut", lane=TY)
    p.end("slutt_svar", "Svar kom", lane=TY)
    p.chain("start", "del", "arbeid", "slutt_arbeid")
    p.chain("del", "frist", "regn", "slutt_frist")
    p.chain("del", "svar", "slutt_svar")
    return [("test_feilende_tidtaker.bpmn", p.to_xml())]
