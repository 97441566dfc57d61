"""Draft the seed routines as BPMN/DMN (with diagram layout) and their forms.

    .venv/bin/python tools/draft_routines.py [--force]

This wrote the first versions of processes/*.bpmn, processes/*.dmn and forms/*.form from the
seed documents (../shared/seeds). Those files are the source now: process owners edit them in the
modeler and the form editor. The script refuses to overwrite existing files unless --force.
Sources cited in `bpmn:documentation`: 004 = Lund kommune, «Rutiner og prosedyrer for å sikre
koordinerte tjenester» (2022); 003 = Bufdir/Hdir, «Samarbeid, samordning og barnekoordinator»;
000/001 = «Tre viktige steg» (foredrag); 002 = Helsedirektoratet, nasjonal veileder for
rehabilitering, habilitering, individuell plan og koordinator.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from bpmnbuilder import Process  # noqa: E402
from draft_forms import (  # noqa: E402
    JA_NEI, bekreft, brukernavn, dato, deltaker_felter, flervalg, gruppe, info, janei, lang, liste, tall, tekst,
    tidspunkt, valg, write_form,
)

ROOT = Path(__file__).resolve().parent.parent
TY, KE, KOORD, LEDER, KOMMUNE = "Tjenesteyter", "Koordinerende enhet", "Koordinator", "Leder", "Kommuneledelse"
GJELDER_HJELP = ("Slik personen omtales i saken og i innkallinger, f.eks. fornavn og forbokstav i etternavn. "
                 "Ikke fødselsnummer eller helseopplysninger.")


# ------------------------------------------------------------------------------------------
# 1. Samarbeid: tre steg, samordning, barnekoordinator (003, 000/001)
# ------------------------------------------------------------------------------------------
def samarbeid() -> Process:
    p = Process("samarbeid", "Samarbeid om tjenester – tre steg", lanes=[TY, KOMMUNE], documentation=(
        "Samarbeidsplikt på individnivå (003 «Samarbeid på individnivå», hol. § 3-4 m.fl., i kraft 1.8.2022): "
        "velferdstjenestene skal samarbeide når det er nødvendig for et helhetlig og samordnet tjenestetilbud, "
        "og har plikt til å vurdere om samarbeid er nødvendig."))
    p.start("start", "Behov for samarbeid vurderes", lane=TY, doc=(
        "003 «Vilkåret for samarbeidsplikten i enkeltsaker»: tjenesten har plikt til å vurdere om samarbeid er "
        "nødvendig. Nødvendighetskravet skal ikke tolkes strengt."))
    p.user("steg1", "Steg 1: Avklare om andre tjenesteytere gir tjenester", lane=TY, form="samarbeid_steg1",
           doc="003 «Tre steg for å avklare om samarbeid mellom tjenester er nødvendig», steg 1; 000/001 «Tre viktige steg».")
    p.xor("andre_tjenester_gw", "Gir andre tjenesteytere tjenester?", lane=TY,
          doc="003 steg 1: ingen andre tjenester → vurderingen avsluttes med dokumentert konklusjon.")
    p.end("slutt_ingen_andre", "Ingen andre tjenester – konklusjon dokumentert", lane=TY,
          doc="003 steg 1. Konklusjonen er et påkrevd felt i skjemaet for steg 1.")
    p.user("steg2", "Steg 2: Vurdere om det er behov for at tjenestene samarbeider", lane=TY, form="samarbeid_steg2",
           doc="003 steg 2; «Nødvendighetskravet skal ikke tolkes strengt», «det kan være nødvendig å samarbeide "
               "selv om behovet for hjelp er kortvarig»; fokus på personens (barnets) behov (001).")
    p.xor("behov_gw", "Behov for samarbeid?", lane=TY, doc="003 steg 2.")
    p.end("slutt_ikke_behov", "Samarbeid ikke nødvendig – begrunnelse dokumentert", lane=TY,
          doc="003 steg 2. Begrunnelsen er et påkrevd felt i skjemaet for steg 2.")
    p.user("steg3", "Steg 3: Opprette kontakt med aktuell tjeneste", lane=TY, form="samarbeid_steg3",
           doc="003 steg 3. Én oppgave per tjeneste (flerinstans over «tjenester»). Samtykke og taushetsplikt "
               "registreres per tjeneste (003 kap. 7; 002 kap. 5).")
    p.multi("steg3", collection="tjenester", element="tjeneste")
    p.user("barnekoordinator_vurdering", "Vurdere rett til barnekoordinator og behov for koordinerte tjenester",
           lane=TY, form="samarbeid_barnekoordinator",
           doc="003 «De samlede vilkårene for rett til barnekoordinator» (pbrl. § 2-5 c, hol. § 7-2 a): "
               "individuell, konkret vurdering av de tre vilkårene.")
    p.rule("barnekoordinator_regel", "Rett til barnekoordinator? (tre vilkår)", decision="rett_til_barnekoordinator",
           lane=TY, doc="Beslutningstabellen rett_til_barnekoordinator.dmn: alle tre vilkår må være oppfylt (003).")
    p.xor("barnekoordinator_gw", "Rett til barnekoordinator?", lane=TY,
          doc="003/hol. § 3-4 annet ledd: er barnekoordinator oppnevnt, skal barnekoordinatoren sørge for samordningen.")
    p.user("samordning", "Avklare hvem som samordner tjenestene", lane=TY, form="samarbeid_samordning",
           doc="003 «Samordningsplikt for kommunen»: tjenestene blir først enige om hvem som samordner.")
    p.xor("enighet_gw", "Enige om hvem som samordner?", lane=TY,
          doc="003: samordningsplikten blir først aktuell når tjenestene ikke selv blir enige.")
    p.user("samordningsplikt", "Kommunen bestemmer hvilken kommunal tjeneste som samordner", lane=KOMMUNE,
           form="samarbeid_samordningsplikt",
           doc="003 «Samordningsplikt for kommunen»; hol. § 3-4 annet ledd: «Ved behov skal kommunen bestemme "
               "hvilken kommunal tjenesteyter som skal ivareta samordningen.»")
    p.xor("samordning_merge", lane=TY)
    p.xor("langvarig_gw", "Behov for langvarige og koordinerte tjenester?", lane=TY,
          doc="004 § 5: tjenesteyter som ser mulige behov plikter å melde dem til koordinerende enhet.")
    p.end("slutt_samordnet", "Samarbeid og samordning avklart", lane=TY)
    p.xor("melding_merge", lane=TY)
    p.end("melding_til_ke", "Melde behov til koordinerende enhet", lane=TY,
          message="melding_til_koordinerende_enhet",
          payload={"gjelder": "gjelder", "tjenester": "tjenester", "barnekoordinator": "rett_til_barnekoordinator"},
          doc="004 § 5 og § 7 trinn 1–3: meldingen starter Lunds oppstartsrutine for samme saksnummer.")
    p.chain("start", "steg1", "andre_tjenester_gw")
    p.flow("andre_tjenester_gw", "steg2", name="Ja", condition='andre_tjenester == "ja"')
    p.flow("andre_tjenester_gw", "slutt_ingen_andre", name="Nei", default=True)
    p.flow("steg2", "behov_gw")
    p.flow("behov_gw", "steg3", name="Ja", condition='samarbeid_nodvendig == "ja"')
    p.flow("behov_gw", "slutt_ikke_behov", name="Nei", default=True)
    p.chain("steg3", "barnekoordinator_vurdering", "barnekoordinator_regel", "barnekoordinator_gw")
    p.flow("barnekoordinator_gw", "melding_merge", name="Ja: barnekoordinator samordner",
           condition="rett_til_barnekoordinator")
    p.flow("barnekoordinator_gw", "samordning", name="Nei", default=True)
    p.flow("samordning", "enighet_gw")
    p.flow("enighet_gw", "samordning_merge", name="Enige", condition='enige == "ja"')
    p.flow("enighet_gw", "samordningsplikt", name="Ikke enige", default=True)
    p.flow("samordningsplikt", "samordning_merge")
    p.flow("samordning_merge", "langvarig_gw")
    p.flow("langvarig_gw", "melding_merge", name="Ja", condition='vilkar_langvarig == "ja"')
    p.flow("langvarig_gw", "slutt_samordnet", name="Nei", default=True)
    p.flow("melding_merge", "melding_til_ke")
    return p


BARNEKOORDINATOR_DMN = """<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" xmlns:dmndi="https://www.omg.org/spec/DMN/20191111/DMNDI/"
  xmlns:dc="http://www.omg.org/spec/DMN/20180521/DC/" id="Definitions_rett_til_barnekoordinator"
  name="Rett til barnekoordinator" namespace="http://camunda.org/schema/1.0/dmn">
  <decision id="rett_til_barnekoordinator" name="Rett til barnekoordinator">
    <documentation>Pasient- og brukerrettighetsloven § 2-5 c og helse- og omsorgstjenesteloven § 7-2 a (003 «De samlede vilkårene for rett til barnekoordinator»): familier som har eller venter barn med alvorlig sykdom, skade eller nedsatt funksjonsevne, og som vil ha behov for langvarige og sammensatte eller koordinerte helse- og omsorgstjenester og andre velferdstjenester. Alle tre vilkår må være oppfylt; vurderingen er individuell og konkret. Ingen søknad eller enkeltvedtak kreves; familien kan klage til statsforvalteren.</documentation>
    <decisionTable id="tabell_barnekoordinator" hitPolicy="FIRST">
      <input id="vilkar1" label="1. Venter barn eller har barn under 18 år">
        <inputExpression id="vilkar1_uttrykk" typeRef="boolean"><text>vilkar_barn == "ja"</text></inputExpression>
      </input>
      <input id="vilkar2" label="2. Alvorlig sykdom, skade eller nedsatt funksjonsevne">
        <inputExpression id="vilkar2_uttrykk" typeRef="boolean"><text>vilkar_alvorlig == "ja"</text></inputExpression>
      </input>
      <input id="vilkar3" label="3. Behov for langvarige og sammensatte/koordinerte tjenester">
        <inputExpression id="vilkar3_uttrykk" typeRef="boolean"><text>vilkar_langvarig == "ja"</text></inputExpression>
      </input>
      <output id="rett" label="Rett til barnekoordinator" name="rett_til_barnekoordinator" typeRef="boolean" />
      <output id="begrunnelse" label="Begrunnelse" name="barnekoordinator_begrunnelse" typeRef="string" />
      <rule id="regel_alle">
        <inputEntry id="regel_alle_1"><text>true</text></inputEntry>
        <inputEntry id="regel_alle_2"><text>true</text></inputEntry>
        <inputEntry id="regel_alle_3"><text>true</text></inputEntry>
        <outputEntry id="regel_alle_rett"><text>true</text></outputEntry>
        <outputEntry id="regel_alle_begrunnelse"><text>"Alle tre vilkår er oppfylt (pbrl. § 2-5 c)."</text></outputEntry>
      </rule>
      <rule id="regel_ikke_barn">
        <inputEntry id="regel_ikke_barn_1"><text>false</text></inputEntry>
        <inputEntry id="regel_ikke_barn_2"><text>-</text></inputEntry>
        <inputEntry id="regel_ikke_barn_3"><text>-</text></inputEntry>
        <outputEntry id="regel_ikke_barn_rett"><text>false</text></outputEntry>
        <outputEntry id="regel_ikke_barn_begrunnelse"><text>"Vilkår 1 er ikke oppfylt: familien venter ikke barn eller har ikke barn under 18 år."</text></outputEntry>
      </rule>
      <rule id="regel_ikke_alvorlig">
        <inputEntry id="regel_ikke_alvorlig_1"><text>-</text></inputEntry>
        <inputEntry id="regel_ikke_alvorlig_2"><text>false</text></inputEntry>
        <inputEntry id="regel_ikke_alvorlig_3"><text>-</text></inputEntry>
        <outputEntry id="regel_ikke_alvorlig_rett"><text>false</text></outputEntry>
        <outputEntry id="regel_ikke_alvorlig_begrunnelse"><text>"Vilkår 2 er ikke oppfylt: barnet har ikke alvorlig sykdom, skade eller nedsatt funksjonsevne."</text></outputEntry>
      </rule>
      <rule id="regel_ikke_langvarig">
        <inputEntry id="regel_ikke_langvarig_1"><text>-</text></inputEntry>
        <inputEntry id="regel_ikke_langvarig_2"><text>-</text></inputEntry>
        <inputEntry id="regel_ikke_langvarig_3"><text>false</text></inputEntry>
        <outputEntry id="regel_ikke_langvarig_rett"><text>false</text></outputEntry>
        <outputEntry id="regel_ikke_langvarig_begrunnelse"><text>"Vilkår 3 er ikke oppfylt: barnet har ikke behov for langvarige og sammensatte eller koordinerte tjenester."</text></outputEntry>
      </rule>
    </decisionTable>
  </decision>
  <dmndi:DMNDI>
    <dmndi:DMNDiagram id="DMNDiagram_rett_til_barnekoordinator">
      <dmndi:DMNShape id="DMNShape_rett_til_barnekoordinator" dmnElementRef="rett_til_barnekoordinator">
        <dc:Bounds height="80" width="180" x="160" y="100" />
      </dmndi:DMNShape>
    </dmndi:DMNDiagram>
  </dmndi:DMNDI>
</definitions>
"""


def samarbeid_forms(folder: Path) -> None:
    write_form(folder, "samarbeid_steg1", "Steg 1: Avklare om andre tjenesteytere gir tjenester", [
        info("**Steg 1** (003): Avklar om andre tjenesteytere gir tjenester til personen, eller bør gjøre det."),
        tekst("gjelder", "Hvem gjelder saken?", description=GJELDER_HJELP, maxLength=80),
        janei("andre_tjenester", "Gir andre tjenesteytere tjenester, eller bør de gjøre det?"),
        liste("tjenester", "Aktuelle tjenester", [
            tekst("navn", "Tjeneste (f.eks. skole, NAV, barnevern, fastlege)"),
            tekst("kontaktperson", "Kjent kontaktperson", required=False),
        ], hide='=andre_tjenester != "ja"'),
        lang("konklusjon_steg1", "Konklusjon", description="Dokumenter konklusjonen, også når ingen andre tjenester er involvert."),
    ])
    write_form(folder, "samarbeid_steg2", "Steg 2: Vurdere behov for samarbeid", [
        info("**Steg 2** (003): «Nødvendighetskravet skal ikke tolkes strengt». Samarbeid kan være nødvendig "
             "selv om behovet for hjelp er kortvarig. Ta utgangspunkt i personens behov."),
        janei("samarbeid_nodvendig", "Er det behov for at tjenestene samarbeider?"),
        lang("begrunnelse_steg2", "Begrunnelse", description="Begrunnelsen er påkrevd, også når samarbeid ikke er nødvendig."),
    ])
    write_form(folder, "samarbeid_steg3", "Steg 3: Opprette kontakt med aktuell tjeneste", [
        info("**Steg 3** (003): Opprett kontakt med tjenesten **{{tjeneste.navn}}**. Del bare opplysninger "
             "personen har samtykket til, eller som ikke er taushetsbelagte."),
        gruppe("tjeneste", "Kontakt", [
            dato("kontakt_dato", "Dato for kontakt"),
            tekst("kontaktperson", "Kontaktperson i tjenesten"),
            valg("samtykke_til_deling", "Grunnlag for å dele opplysninger", [
                ("samtykke", "Samtykke er innhentet"),
                ("ikke_taushetsbelagt", "Ingen taushetsbelagte opplysninger deles"),
                ("anonym", "Ikke samtykke – bare anonym drøfting"),
            ]),
            lang("merknad", "Merknad", required=False),
        ]),
    ])
    write_form(folder, "samarbeid_barnekoordinator", "Rett til barnekoordinator og behov for koordinerte tjenester", [
        info("De tre vilkårene for rett til barnekoordinator (pbrl. § 2-5 c, 003). Vurder hvert vilkår "
             "individuelt og konkret. Gjelder saken en voksen, svar nei på vilkår 1."),
        janei("vilkar_barn", "1. Venter familien barn, eller har familien barn under 18 år?",
              description="Retten kan inntre allerede under svangerskapet eller når foreldre er tildelt et adoptivbarn."),
        janei("vilkar_alvorlig", "2. Har barnet alvorlig sykdom, skade eller nedsatt funksjonsevne?",
              description="Det er ikke et vilkår at barnet har en diagnose. «Alvorlig» skal ikke tolkes strengt.",
              hide='=vilkar_barn = "nei"', required=True),
        janei("vilkar_langvarig", "3. Er det behov for langvarige og sammensatte eller koordinerte tjenester?",
              description="«Langvarig» omfatter også forholdsvis kortvarige behov. I tvilstilfeller kan en vanskelig "
                          "familiesituasjon tilsi at vilkåret er oppfylt."),
        lang("vurdering_barnekoordinator", "Vurdering", description="Individuell, konkret vurdering av vilkårene."),
    ])
    write_form(folder, "samarbeid_samordning", "Hvem samordner tjenestene?", [
        info("Tjenestene skal først selv bli enige om hvem som samordner tilbudet (003 «Samordningsplikt for kommunen»)."),
        janei("enige", "Er tjenestene enige om hvem som skal samordne tilbudet?"),
        tekst("samordnende_tjeneste", "Tjenesten som samordner", hide='=enige != "ja"'),
        lang("samordning_merknad", "Merknad", required=False),
    ])
    write_form(folder, "samarbeid_samordningsplikt", "Kommunen bestemmer hvem som samordner", [
        info("Tjenestene er ikke enige. Kommunen skal bestemme hvilken kommunal tjeneste som får hovedansvaret "
             "for samordningen (hol. § 3-4 annet ledd, 003)."),
        tekst("samordnende_tjeneste", "Kommunal tjeneste som får hovedansvaret for samordningen"),
        lang("begrunnelse_samordningsplikt", "Begrunnelse"),
    ])


# ------------------------------------------------------------------------------------------
# 2. Lund: oppstart i 13 trinn (004 § 7), samtykke (002 § 17), avslutning (004 § 10)
# ------------------------------------------------------------------------------------------
def oppstart() -> Process:
    p = Process("oppstart", "Igangsettelse av koordinering og individuell plan (Lund kommune)",
                lanes=[KE, KOORD], documentation=(
                    "004 § 7 «Igangsettelse» (13 trinn), § 6 (ansvar, maks fem planer), § 10 (avslutning), "
                    "11.1 (opprettelse av koordinator); samtykke etter forskrift § 17 (002 kap. 13)."))
    p.start("melding_mottatt", "1. Melding: bruker har behov for koordinering", lane=KE,
            message="melding_til_koordinerende_enhet", form="oppstart_melding",
            doc="004 § 7 trinn 1 «Bruker har behov for koordinering av helse og omsorgstjenester»; § 5: "
                "tjenesteyter plikter å melde behov til koordinerende enhet.")
    p.user("onske", "2.–3. Avklare om bruker ønsker koordinering og søker om koordinator/IP", lane=KE,
           form="oppstart_onske", doc="004 § 7 trinn 2 «Bruker ønsker koordinering» og trinn 3 «Bruker/fagperson "
                                      "som oppdager behovet søker om koordinator/IP»; § 5 informasjonsplikt.")
    p.xor("onske_gw", "Ønsker bruker koordinering?", lane=KE, doc="004 § 7 trinn 2.")
    p.end("slutt_onskes_ikke", "Avsluttet: bruker ønsker ikke koordinering", lane=KE,
          doc="004 § 1: retten gjelder «hvis de ønsker det». Informasjon om retten er gitt (påkrevd felt).")
    p.user("samtale", "4. Samtale for avklaring med familien/bruker, og samtykke", lane=KE, form="oppstart_samtale",
           doc="004 § 7 trinn 4; forskrift § 17 (002 kap. 13): samtykke før IP utarbeides og før koordinator "
               "oppnevnes, og det skal fremgå hva samtykket omfatter.")
    p.xor("samtykke_gw", "Samtykke gitt?", lane=KE, doc="Forskrift § 17 (002): ikke IP eller koordinator uten samtykke.")
    p.end("slutt_uten_samtykke", "Avsluttet: samtykke ikke gitt", lane=KE, doc="Forskrift § 17 (002).")
    work = Process("planarbeid_innhold", "Planarbeid")
    work.start("planarbeid_start", "Samtykke gitt", doc="Forskrift § 17: planarbeidet bygger på samtykket.")
    work.call("koordinator_kall", "5. Hvem skal ha ansvar for koordinatorfunksjonen?", called="opprettelse_av_koordinator",
              doc="004 § 7 trinn 5 «Hvem skal ha ansvar for koordinatorfunksjonen? Bruker/pårørende kommer med "
                  "ønsker.», utført etter 11.1 «Arbeidsprosedyre ved opprettelse av koordinator».")
    work.user("oppstartsamtale", "6. Koordinator etablerer kontakt og gjennomfører oppstartsamtale", groups="koordinator",
              form="oppstart_oppstartsamtale", doc="004 § 7 trinn 6; 11.1: koordinator ordner møte med tjenestemottaker.")
    work.user("kartlegging", "7. Oppstartmøte: kartlegge situasjon, ressurser, mål og behov", groups="koordinator",
              form="oppstart_kartlegging", doc="004 § 7 trinn 7; § 6: koordinator har plikt til å kartlegge barn som "
                                              "pårørende eller søsken (påkrevd del av skjemaet).")
    work.user("verktoy", "8. Valg av verktøy: IP eller referatskriving?", groups="koordinator", form="oppstart_verktoy",
              doc="004 § 7 trinn 8.")
    work.throw("registrer_verktoy", "Planverktøy registreres på saken", message="planverktoy_valgt",
               payload={"verktoy": "verktoy"},
               doc="Saksregisteret: saker med individuell plan teller mot grensen på fem planer per koordinator (004 § 6).")
    work.throw("opprett_ansvarsgruppe", "9. Koordinator oppretter ansvarsgruppe", message="opprett_ansvarsgruppe",
               payload={"gjelder": "gjelder", "koordinator": "koordinator"},
               doc="004 § 7 trinn 9 «Koordinator oppretter ansvarsgruppe: involverte tjenesteytere innkalles til møte»; "
                   "starter ansvarsgruppeprosessen (11.4) for samme saksnummer.")
    work.xor("plan_merge")
    work.user("plan", "10. Planlegge oppfølging / lage IP", groups="koordinator", form="oppstart_plan",
              doc="004 § 7 trinn 10; § 8 «Arbeidet med planen»; IP-innhold etter forskrift § 19 a–i (002 13.6).")
    work.user("koordinere", "11. Koordinere oppfølgingen", groups="koordinator", form="oppstart_oppfolging",
              doc="004 § 7 trinn 11; 11.3: koordinator har ansvar for fremdrift og etterspør fremdrift.")
    work.user("evaluere", "12. Evaluere resultatene", groups="koordinator", form="oppstart_evaluering",
              doc="004 § 7 trinn 12; § 8: planen evalueres jevnlig.")
    work.xor("videre_gw", "13. Behov for videre koordinering?", doc="004 § 7 trinn 13.")
    work.user("avslutning", "Avslutte planarbeidet", groups="koordinator", form="oppstart_avslutning",
              doc="004 § 10: planarbeidet avsluttes når tjenesten ikke lenger ønskes, eller når behovet for "
                  "langvarige og koordinerte tjenester opphører.")
    work.end("planarbeid_slutt", "Planarbeid fullført")
    work.chain("planarbeid_start", "koordinator_kall", "oppstartsamtale", "kartlegging", "verktoy", "registrer_verktoy",
               "opprett_ansvarsgruppe", "plan_merge", "plan", "koordinere", "evaluere", "videre_gw")
    work.flow("videre_gw", "plan_merge", name="Ja", condition='videre_koordinering == "ja"')
    work.flow("videre_gw", "avslutning", name="Nei", default=True)
    work.flow("avslutning", "planarbeid_slutt")
    p.subprocess("planarbeid", "Planarbeid med samtykke (trinn 5–13)", work, lane=KOORD,
                 doc="004 § 7 trinn 5–13. Samtykket kan trekkes tilbake når som helst (002 kap. 5).")
    p.boundary("samtykke_trukket", "Samtykket trekkes tilbake", attached_to="planarbeid", message="samtykke_trukket",
               doc="002 kap. 5 «Tilbakekall av samtykke»: pasienten kan når som helst trekke samtykket helt eller delvis "
                   "tilbake (pbrl. § 4-1 annet ledd). Avbryter planarbeidet.")
    p.user("samtykke_trukket_avslutning", "Avslutte planarbeidet etter tilbaketrukket samtykke", lane=KE,
           form="oppstart_samtykke_trukket",
           doc="002 kap. 5: den som yter hjelpen plikter å informere om følgene av at samtykket trekkes. "
               "KE har det overordnede ansvaret for planer og koordinatorer (004 § 6).")
    p.end("samtykke_trukket_slutt", "Planarbeidet avsluttet: samtykke trukket", lane=KE,
          doc="Forskrift § 17: uten samtykke kan planarbeidet ikke fortsette.")
    p.end("slutt_avsluttet", "Planarbeidet avsluttet", lane=KOORD, doc="004 § 10.")
    p.chain("melding_mottatt", "onske", "onske_gw")
    p.flow("onske_gw", "samtale", name="Ja", condition='bruker_onsker_koordinering == "ja"')
    p.flow("onske_gw", "slutt_onskes_ikke", name="Nei", default=True)
    p.flow("samtale", "samtykke_gw")
    p.flow("samtykke_gw", "planarbeid", name="Ja", condition='samtykke_gitt == "ja"')
    p.flow("samtykke_gw", "slutt_uten_samtykke", name="Nei", default=True)
    p.flow("planarbeid", "slutt_avsluttet")
    p.chain("samtykke_trukket", "samtykke_trukket_avslutning", "samtykke_trukket_slutt")
    return p


def oppstart_forms(folder: Path) -> None:
    write_form(folder, "oppstart_melding", "Melding om behov for koordinering", [
        info("Registrer en melding om behov for koordinator/individuell plan (004 § 5)."),
        tekst("gjelder", "Hvem gjelder saken?", description=GJELDER_HJELP, maxLength=80),
        tekst("meldt_av", "Meldt av (tjeneste, bruker eller pårørende)"),
        lang("behov", "Kort beskrivelse av behovet", description="Bare det som trengs for å vurdere saken."),
    ])
    write_form(folder, "oppstart_onske", "Trinn 2–3: Ønske og søknad", [
        bekreft("informert_om_rettigheter", "Bruker/pårørende er informert om ordningen med koordinator og individuell "
                "plan, og om at de kan kontakte koordinerende enhet direkte (004 § 5)."),
        janei("bruker_onsker_koordinering", "2. Ønsker bruker koordinering?"),
        valg("soknad_fra", "3. Hvem søker om koordinator/IP?", [
            ("bruker", "Bruker"), ("parorende", "Pårørende/foresatte"), ("fagperson", "Fagperson som oppdaget behovet")],
            hide='=bruker_onsker_koordinering != "ja"'),
        dato("soknad_dato", "Dato for søknad", hide='=bruker_onsker_koordinering != "ja"'),
    ])
    samtykke_skjult = '=samtykke_gitt != "ja"'
    write_form(folder, "oppstart_samtale", "Trinn 4: Avklaringssamtale og samtykke", [
        dato("samtale_dato", "Dato for samtalen"),
        lang("oppsummering_samtale", "Oppsummering av samtalen"),
        info("**Samtykke** (forskrift § 17): Individuell plan skal ikke utarbeides, og koordinator ikke oppnevnes, "
             "uten samtykke. Det skal fremgå hva samtykket omfatter: hvilke opplysninger som kan deles, og med hvem."),
        janei("samtykke_gitt", "Er samtykke gitt?"),
        valg("samtykke_av", "Samtykket er gitt av", [
            ("bruker", "Bruker selv"), ("foresatte", "Foresatte"), ("verge", "Verge")], hide=samtykke_skjult),
        flervalg("samtykke_omfatter", "Samtykket omfatter", [
            ("koordinator", "Oppnevning av koordinator"), ("individuell_plan", "Utarbeidelse av individuell plan"),
            ("informasjonsutveksling", "Utveksling av nødvendige opplysninger mellom deltakerne")],
            hide=samtykke_skjult),
        lang("opplysninger_som_deles", "Hvilke opplysninger kan deles?", hide=samtykke_skjult),
        lang("deles_med", "Med hvem kan opplysningene deles?", hide=samtykke_skjult),
        lang("opplysninger_som_ikke_deles", "Opplysninger som ikke skal deles", required=False, hide=samtykke_skjult),
    ])
    write_form(folder, "oppstart_oppstartsamtale", "Trinn 6: Oppstartsamtale", [
        dato("oppstartsamtale_dato", "Dato for oppstartsamtalen"),
        lang("arbeidsform", "Avtalt arbeidsform og møtepunkter", description="002 13.6: avklar forventninger, "
             "arbeidsform og hvordan møtepunktene med andre tjenesteytere gjennomføres."),
        lang("parorende_deltakelse", "Pårørendes deltakelse (avklart med bruker)", required=False),
    ])
    write_form(folder, "oppstart_kartlegging", "Trinn 7: Oppstartmøte og kartlegging", [
        dato("oppstartmote_dato", "Dato for oppstartmøtet"),
        lang("situasjon", "Situasjon"), lang("ressurser", "Ressurser"), lang("mal", "Mål"), lang("behov", "Behov"),
        info("**Barn som pårørende eller søsken** (004 § 6): Som koordinator har du plikt til å kartlegge barn som "
             "pårørende eller søsken. Registrer relasjon og alder – ikke navn."),
        janei("barn_som_parorende", "Er det barn som er pårørende eller søsken?"),
        liste("barn", "Barn som pårørende/søsken", [
            valg("relasjon", "Relasjon", [("barn", "Barn av personen"), ("sosken", "Søsken")]),
            tall("alder", "Alder", minimum=0, maximum=17),
            lang("oppfolging", "Behov for informasjon og oppfølging"),
        ], hide='=barn_som_parorende != "ja"'),
    ])
    write_form(folder, "oppstart_verktoy", "Trinn 8: Valg av verktøy", [
        valg("verktoy", "Verktøy for koordineringen", [("ip", "Individuell plan (IP)"), ("referat", "Referatskriving")]),
        lang("verktoy_begrunnelse", "Begrunnelse"),
    ])
    ip_skjult = '=verktoy != "ip"'
    write_form(folder, "oppstart_plan", "Trinn 10: Planlegge oppfølging / lage IP", [
        info("Individuell plan skal inneholde hovedpunktene i forskrift § 19 a–i (002 13.6). Koordinator: **{{koordinator}}**."),
        lang("mal_ressurser_behov", "a) Mål, ressurser og behov for tjenester", hide=ip_skjult),
        lang("plandeltakere", "b) Hvem deltar i arbeidet med planen", hide=ip_skjult),
        lang("bidrag", "d) Hva bruker, tjenesteytere og pårørende bidrar med", hide=ip_skjult),
        liste("tiltak", "e) Tiltak, omfang og ansvarlig", [
            tekst("tiltak", "Tiltak"), tekst("omfang", "Omfang"), tekst("ansvarlig", "Ansvarlig")], hide=ip_skjult),
        lang("gjennomforing", "f) Hvordan tiltakene gjennomføres", hide=ip_skjult),
        dato("planperiode_fra", "g) Planperiode fra", hide=ip_skjult),
        dato("planperiode_til", "g) Planperiode til", hide=ip_skjult),
        dato("revisjon_dato", "g) Dato for justering/revisjon", hide=ip_skjult),
        bekreft("samtykke_registrert", "h) Samtykke til planen og til deling av opplysninger er registrert (trinn 4)",
                hide=ip_skjult),
        lang("samarbeid_med", "i) Nødvendig samarbeid med andre tjenesteytere, institusjoner og etater", hide=ip_skjult),
        lang("oppfolgingsplan", "Plan for oppfølgingen (referatskriving)", hide='=verktoy != "referat"'),
    ])
    write_form(folder, "oppstart_oppfolging", "Trinn 11: Koordinere oppfølgingen", [
        lang("oppfolging_status", "Status i oppfølgingen"),
        bekreft("framdrift_etterspurt", "Fremdrift er etterspurt hos deltakere som ikke har fulgt opp (11.3)",
                required=False),
    ])
    write_form(folder, "oppstart_evaluering", "Trinn 12–13: Evaluering", [
        lang("evaluering", "Evaluering av resultatene", description="004 § 8: evalueres av tjenestemottaker og "
             "koordinator, eller av ansvarsgruppen."),
        janei("videre_koordinering", "13. Er det behov for videre koordinering?"),
    ])
    write_form(folder, "oppstart_avslutning", "Avslutte planarbeidet", [
        valg("avslutningsgrunn", "Hvorfor avsluttes planarbeidet? (004 § 10)", [
            ("onskes_ikke", "Tjenesten ønskes ikke lenger av tjenestemottaker"),
            ("behov_opphort", "Behovet for langvarige og koordinerte tjenester har opphørt")]),
        lang("avslutning_kommentar", "Kommentar", required=False),
    ])
    write_form(folder, "oppstart_samtykke_trukket", "Samtykke trukket tilbake", [
        info("Samtykket er trukket tilbake. Planarbeidet avsluttes, og koordinatoroppdraget opphører."),
        dato("samtykke_trukket_dato", "Dato samtykket ble trukket"),
        bekreft("informert_om_folger", "Bruker/pårørende er informert om følgene av at samtykket trekkes "
                "(pbrl. § 4-1, 002 kap. 5)"),
        lang("samtykke_trukket_kommentar", "Kommentar", required=False),
    ])


# ------------------------------------------------------------------------------------------
# 3. Opprettelse av koordinator (004 11.1), kalt fra oppstart trinn 5
# ------------------------------------------------------------------------------------------
def opprettelse_av_koordinator() -> Process:
    p = Process("opprettelse_av_koordinator", "Opprettelse av koordinator (11.1)", lanes=[KE, TY, KOORD],
                documentation="004 11.1 «Arbeidsprosedyre ved opprettelse av koordinator»; § 6: ingen kan pålegges "
                              "koordinatoransvar for mer enn fem individuelle planer.")
    p.start("start", "Koordinator skal oppnevnes", lane=KE, doc="004 11.1: KE har ansvar for oppnevning av koordinator.")
    p.user("onske", "1. Tjenestemottakers ønske om koordinator", lane=KE, form="koordinator_onske",
           doc="004 11.1 punkt 1: brukers ønske legges stor vekt på. JA (ønsket innfris): koordinator ordner møte. "
               "NEI: gå til punkt 2.")
    p.xor("onske_gw", "Kan ønsket innfris?", lane=KE, doc="004 11.1 punkt 1.")
    p.user("hovedregel", "2. Hovedregel: koordinator fra tjenesten som er mest aktiv", lane=KE,
           form="koordinator_hovedregel",
           doc="004 11.1 punkt 2: koordinator fra den instans som er mest aktiv inne med tjenester, fortrinnsvis "
               "helse, omsorg og sosial; ivareta det som er mest hensiktsmessig for tjenestemottaker.")
    p.xor("hovedregel_gw", "Oppnevnt fra mest aktive tjeneste?", lane=KE, doc="004 11.1 punkt 2.")
    p.xor("anmodning_merge", lane=KE)
    p.user("anmodning", "3. KE anmoder en fagavdeling om å oppnevne koordinator", lane=KE, form="koordinator_anmodning",
           doc="004 11.1 punkt 3: KE eller systemkoordinator anmoder en fagavdeling som er inne med tjenester.")
    p.user("fagavdeling", "Fagavdelingen oppnevner koordinator", lane=TY, form="koordinator_fagavdeling",
           doc="004 11.1 punkt 3.")
    p.xor("oppnevnt_merge", lane=KE)
    p.xor("grense_gw", "Har koordinatoren allerede fem planer?", lane=KE,
          doc="004 § 6: «Tjenesteytere kan ikke pålegges å ha koordinatoransvar for mer enn 5 individuelle planer.» "
              "Antallet telles på tvers av saker ved oppnevningen (regelen maks_fem_planer).")
    p.user("aksept", "Koordinatoren avgjør selv om hen påtar seg oppdraget", lane=KOORD, form="koordinator_aksept",
           assignee="${koordinator}",
           doc="004 § 6: kan ikke pålegges – men kan selv påta seg oppdraget. Avgjørelsen registreres.")
    p.xor("aksept_gw", "Påtar koordinatoren seg oppdraget?", lane=KOORD, doc="004 § 6.")
    p.xor("registrer_merge", lane=KE)
    p.throw("registrer", "Koordinator registreres på saken", lane=KE, message="koordinator_oppnevnt",
            payload={"koordinator": "koordinator", "gjelder": "gjelder",
                     "godtatt_over_grense": '(godtar_flere_planer == "ja") if koordinator_aktive_planer >= 5 else False'},
            doc="Saksregisteret: koordinatoren får sakens koordinatoroppgaver (004 § 7 trinn 6–13).")
    p.end("slutt", "Koordinator oppnevnt", lane=KE, doc="004 11.1: koordinator ordner møte med tjenestemottaker (trinn 6).")
    p.chain("start", "onske", "onske_gw")
    p.flow("onske_gw", "oppnevnt_merge", name="Ja", condition='har_onske == "ja" and onske_innfris == "ja"')
    p.flow("onske_gw", "hovedregel", name="Nei", default=True)
    p.flow("hovedregel", "hovedregel_gw")
    p.flow("hovedregel_gw", "oppnevnt_merge", name="Ja", condition='hensiktsmessig == "ja"')
    p.flow("hovedregel_gw", "anmodning_merge", name="Nei", default=True)
    p.chain("anmodning_merge", "anmodning", "fagavdeling", "oppnevnt_merge")
    p.chain("oppnevnt_merge", "grense_gw")
    p.flow("grense_gw", "aksept", name="Fem eller flere", condition="koordinator_aktive_planer >= 5")
    p.flow("grense_gw", "registrer_merge", name="Under fem", default=True)
    p.flow("aksept", "aksept_gw")
    p.flow("aksept_gw", "registrer_merge", name="Ja", condition='godtar_flere_planer == "ja"')
    p.flow("aksept_gw", "anmodning_merge", name="Nei: spør en annen fagavdeling", default=True)
    p.chain("registrer_merge", "registrer", "slutt")
    return p


def _oppnevning(key_prefix="koordinator", hide=None) -> list[dict]:
    hjelp = ("Brukernavnet til den som oppnevnes. Ingen kan pålegges mer enn fem individuelle planer (004 § 6); "
             "har personen allerede fem, må hen selv påta seg oppdraget.")
    return [
        brukernavn(key_prefix, "Koordinator (brukernavn)", description=hjelp, hide=hide),
        bekreft(f"{key_prefix}_spor_om_aksept", "Personen har allerede fem planer: spør om hen selv vil påta seg "
                "oppdraget", required=False, hide=hide),
    ]


def koordinator_forms(folder: Path) -> None:
    skjult = '=har_onske != "ja" or onske_innfris != "ja"'
    write_form(folder, "koordinator_onske", "11.1 punkt 1: Ønske om koordinator", [
        janei("har_onske", "Har tjenestemottaker/pårørende ønske om hvem som skal være koordinator?"),
        tekst("onsket_koordinator", "Ønsket koordinator (navn eller tjeneste)", hide='=har_onske != "ja"'),
        janei("onske_innfris", "Kan ønsket innfris?", hide='=har_onske != "ja"'),
        *_oppnevning(hide=skjult),
        lang("onske_begrunnelse", "Begrunnelse", required=False),
    ])
    write_form(folder, "koordinator_hovedregel", "11.1 punkt 2: Hovedregelen", [
        tekst("mest_aktive_tjeneste", "Kommunal tjeneste som er mest aktiv inne med tjenester"),
        janei("hensiktsmessig", "Er det hensiktsmessig for tjenestemottaker, og kan tjenesten oppnevne koordinator?"),
        *_oppnevning(hide='=hensiktsmessig != "ja"'),
    ])
    write_form(folder, "koordinator_anmodning", "11.1 punkt 3: Anmodning til fagavdeling", [
        tekst("fagavdeling", "Fagavdeling som anmodes om å oppnevne koordinator"),
        dato("anmodning_dato", "Dato for anmodningen"),
    ])
    write_form(folder, "koordinator_fagavdeling", "Fagavdelingen oppnevner koordinator", [
        info("Koordinerende enhet har anmodet **{{fagavdeling}}** om å oppnevne koordinator."),
        *_oppnevning(),
    ])
    write_form(folder, "koordinator_aksept", "Påta deg koordinatoroppdraget?", [
        info("Du er foreslått som koordinator for **{{gjelder}}** og har allerede **{{koordinator_aktive_planer}}** "
             "aktive individuelle planer. Tjenesteytere kan ikke pålegges mer enn fem (004 § 6), men du kan selv "
             "påta deg oppdraget."),
        janei("godtar_flere_planer", "Påtar du deg oppdraget?"),
    ])


# ------------------------------------------------------------------------------------------
# 4. Skifte av koordinator (004 11.2, 8 trinn)
# ------------------------------------------------------------------------------------------
def skifte_av_koordinator() -> Process:
    p = Process("skifte_av_koordinator", "Skifte av koordinator (11.2)", lanes=[KOORD, LEDER, TY, KE],
                documentation="004 11.2 «Arbeidsprosedyre ved skifte av koordinator» (8 trinn); § 6 (maks fem planer).")
    p.start("start", "Behov for skifte av koordinator", lane=KOORD, form="skifte_start",
            doc="004 11.2. Startes for en løpende sak med oppnevnt koordinator (regelen aktiv_plansak).")
    p.user("leder_avklaring", "1. Koordinator avklarer behovet for skifte med nærmeste overordnet", lane=LEDER,
           form="skifte_leder", doc="004 11.2 trinn 1.")
    p.xor("godkjent_gw", "Skifte avklart med leder?", lane=LEDER, doc="004 11.2 trinn 1.")
    p.end("slutt_ikke_skifte", "Skifte ikke aktuelt", lane=LEDER)
    p.user("planeier", "2. Koordinator kontakter planeier/foresatte og spør hvem de ønsker", lane=KOORD,
           form="skifte_planeier", doc="004 11.2 trinn 2.")
    p.user("deltakere", "3. Koordinator avklarer med deltakerne hvem som kan ta over", lane=KOORD,
           form="skifte_deltakere", doc="004 11.2 trinn 3.")
    p.xor("tar_over_gw", "Har noen påtatt seg rollen?", lane=KOORD, doc="004 11.2 trinn 3 og 7.")
    p.xor("ny_leder_merge", lane=TY)
    p.user("ny_koordinator_leder", "4. Ny koordinator avklarer med sin nærmeste overordnede", lane=TY,
           form="skifte_ny_koordinator", assignee="${ny_koordinator}",
           doc="004 11.2 trinn 4; § 6: har den nye allerede fem planer, må hen selv påta seg oppdraget.")
    p.xor("ny_gw", "Klarert med egen leder?", lane=TY, doc="004 11.2 trinn 4.")
    p.user("informere", "5. Koordinator informerer planeier og legger til ny koordinator i planen", lane=KOORD,
           form="skifte_informere", doc="004 11.2 trinn 5.")
    p.throw("rollebytte", "6. Ny koordinator overtar rollen", lane=KOORD, message="koordinator_oppnevnt",
            payload={"koordinator": "ny_koordinator", "gjelder": "gjelder",
                     "godtatt_over_grense": "ny_koordinator_aktive_planer >= 5"},
            doc="004 11.2 trinn 6 «Ny koordinator skifter rolle (i Samspill) på tidligere koordinator»: "
                "saksregisteret gir sakens koordinatoroppgaver til den nye.")
    p.end("slutt_ny", "Ny koordinator på saken", lane=KOORD)
    p.xor("ledermoete_merge", lane=LEDER)
    p.user("ledermoete", "7. Ledermøte: leder til koordinator kaller inn lederne til de andre deltakerne", lane=LEDER,
           form="skifte_ledermoete", doc="004 11.2 trinn 7: ingen påtar seg rollen → ledermøte; KE innkalles ved "
                                         "behov/ønske.")
    p.xor("lederenige_gw", "Enige om ny koordinator?", lane=LEDER, doc="004 11.2 trinn 7–8.")
    p.user("ke_avklarer", "8. KE avklarer hvilken fagavdeling som skal ha koordinatoransvaret", lane=KE,
           form="skifte_ke", doc="004 11.2 trinn 8: lederne blir ikke enige → KE avklarer fagavdeling.")
    p.user("fagavdeling", "Fagavdelingen oppnevner ny koordinator", lane=TY, form="skifte_fagavdeling",
           doc="004 11.2 trinn 8: «Den aktuelle fagavdeling oppnevner ny koordinator.»")
    p.chain("start", "leder_avklaring", "godkjent_gw")
    p.flow("godkjent_gw", "planeier", name="Ja", condition='skifte_godkjent == "ja"')
    p.flow("godkjent_gw", "slutt_ikke_skifte", name="Nei", default=True)
    p.chain("planeier", "deltakere", "tar_over_gw")
    p.flow("tar_over_gw", "ny_leder_merge", name="Ja", condition='noen_tar_over == "ja"')
    p.flow("tar_over_gw", "ledermoete_merge", name="Nei", default=True)
    p.chain("ny_leder_merge", "ny_koordinator_leder", "ny_gw")
    p.flow("ny_gw", "informere", name="Ja",
           condition='leder_har_godkjent == "ja" and (ny_koordinator_aktive_planer < 5 or godtar_flere_planer == "ja")')
    p.flow("ny_gw", "ledermoete_merge", name="Nei", default=True)
    p.chain("informere", "rollebytte", "slutt_ny")
    p.chain("ledermoete_merge", "ledermoete", "lederenige_gw")
    p.flow("lederenige_gw", "ny_leder_merge", name="Enige", condition='enige == "ja"')
    p.flow("lederenige_gw", "ke_avklarer", name="Ikke enige", default=True)
    p.chain("ke_avklarer", "fagavdeling", "ny_leder_merge")
    return p


def skifte_forms(folder: Path) -> None:
    write_form(folder, "skifte_start", "Skifte av koordinator", [
        info("Start skifte av koordinator for en løpende sak (004 11.2). Saken må ha en oppnevnt koordinator."),
        lang("skifte_arsak", "Hvorfor er det behov for skifte?") | {"properties": {"regel": "aktiv_plansak"}},
    ])
    write_form(folder, "skifte_leder", "Trinn 1: Avklaring med nærmeste overordnet", [
        info("Koordinator **{{naavaerende_koordinator}}** ønsker skifte: {{skifte_arsak}}"),
        janei("skifte_godkjent", "Er behovet for skifte avklart og godkjent?"),
        lang("leder_kommentar", "Kommentar", required=False),
    ])
    write_form(folder, "skifte_planeier", "Trinn 2: Kontakt med planeier/foresatte", [
        dato("planeier_kontaktet", "Dato planeier/foresatte ble kontaktet"),
        tekst("onsket_ny_koordinator", "Hvem ønsker de som ny koordinator?", required=False),
    ])
    write_form(folder, "skifte_deltakere", "Trinn 3: Avklaring med deltakerne i planen", [
        janei("noen_tar_over", "Har en av deltakerne påtatt seg å være koordinator?"),
        *_oppnevning("ny_koordinator", hide='=noen_tar_over != "ja"'),
    ])
    write_form(folder, "skifte_ny_koordinator", "Trinn 4: Avklaring med din nærmeste overordnede", [
        info("Du er foreslått som ny koordinator for **{{gjelder}}**."),
        janei("leder_har_godkjent", "Har din nærmeste overordnede godkjent at du tar koordinatorrollen?"),
        janei("godtar_flere_planer", "Du har allerede {{ny_koordinator_aktive_planer}} aktive planer. Påtar du deg "
              "likevel oppdraget? (Ingen kan pålegges mer enn fem, 004 § 6)", hide="=ny_koordinator_aktive_planer < 5"),
    ])
    write_form(folder, "skifte_informere", "Trinn 5: Informere planeier og oppdatere planen", [
        bekreft("planeier_informert", "Planeier og eventuelt foresatte er informert om ny koordinator"),
        bekreft("lagt_til_i_planen", "Ny koordinator er lagt til i planen"),
    ])
    write_form(folder, "skifte_ledermoete", "Trinn 7: Ledermøte", [
        dato("ledermoete_dato", "Dato for ledermøtet"),
        bekreft("ke_innkalt", "Koordinerende enhet er innkalt", required=False),
        janei("enige", "Ble lederne enige om ny koordinator?"),
        *_oppnevning("ny_koordinator", hide='=enige != "ja"'),
    ])
    write_form(folder, "skifte_ke", "Trinn 8: KE avklarer fagavdeling", [
        tekst("fagavdeling", "Fagavdeling som skal ha koordinatoransvaret"),
        lang("ke_begrunnelse", "Begrunnelse"),
    ])
    write_form(folder, "skifte_fagavdeling", "Fagavdelingen oppnevner ny koordinator", [
        info("Koordinerende enhet har bestemt at **{{fagavdeling}}** skal ha koordinatoransvaret."),
        *_oppnevning("ny_koordinator"),
    ])


# ------------------------------------------------------------------------------------------
# 5. Ansvarsgruppe (004 11.4)
# ------------------------------------------------------------------------------------------
INNKALLINGSFRIST = "iso(subtract_days(moetetid, varslingsfrist_dager))"
DELTAKERE = "faste_medlemmer + (ekstra_innkalte or [])"
GRUPPE = '"Ansvarsgruppe " + (saksnummer or "")'


def _moete_payload() -> dict:
    return {"moete_id": "moete_id", "gjelder": "gjelder", "tidspunkt": "moetetid", "sted": "sted",
            "saksliste": '[punkt["punkt"] for punkt in saksliste]', "deltakere": DELTAKERE, "gruppe": GRUPPE}


def ansvarsgruppe() -> Process:
    p = Process("ansvarsgruppe", "Ansvarsgruppe: opprettelse, møter og oppløsning", lanes=[KOORD, LEDER],
                documentation="004 11.4 «Prosedyre for opprettelse av funksjon i ansvarsgrupper»: innkalling minst "
                              "14 dager før hvert møte, møter minst to ganger i året, referat, oppløsning.")
    p.start("start", "Behov for ansvarsgruppe", lane=KOORD, message="opprett_ansvarsgruppe", form="ansvarsgruppe_start",
            doc="004 11.4 «Opprettelse»: opprettes på bakgrunn av tjenestemottakers behov; startes fra Lunds rutine "
                "trinn 9 eller direkte. En oppløst gruppe kan gjenopprettes som ny instans med samme saksnummer.")
    p.user("opprettelse", "Ta initiativ og kalle inn til første møte", lane=KOORD, form="ansvarsgruppe_opprettelse",
           doc="004 11.4: faginstansen behovet meldes til tar initiativ, kaller inn til første møte og deler ut "
               "prosedyrene. Varslingsfristen (standard 14 dager) kan settes lengre for gruppen.")
    p.script("registrer_forste", "Registrer første møte", lane=KOORD,
             code='moete_nr = 1\nmoete_id = "m1"\nsiste_moete = iso(now())',
             doc="Bare dataflytting: nummererer møtet (stabil kalender-UID) og starter seksmånedersfristen.")
    cycle = Process("moeteperiode", "Møteperiode")
    cycle.start("periode_start", "Møtetidspunkt avtalt", doc="004 11.4 «Hyppighet»: tidspunkt for neste møte avtales "
                                                              "før medlemmene går fra hverandre.")
    cycle.xor("forberede_merge")
    cycle.user("forberede_innkalling", "Forberede innkalling: saksliste og innkalte", form="ansvarsgruppe_forberede",
               groups="koordinator", due=INNKALLINGSFRIST,
               doc="004 11.4 «Innkalling og referat»: innkallingen skal inneholde hvem møtet gjelder, deltakere "
                   "(tittel, navn, korrekt adresse), tid og sted, og saksliste; andre enn faste medlemmer innkalles "
                   "ved behov. «Alternativ organisering»: to medlemmer møter tjenestemottaker før og etter møtet.")
    cycle.boundary("innkalling_forsinket", "Innkallingsfristen er nådd", attached_to="forberede_innkalling",
                   timer=("timeDate", INNKALLINGSFRIST), interrupting=False,
                   doc="004 11.4: innkalling sendes minst 14 dager før møtet. Er den ikke klar, varsles leder.")
    cycle.user("eskalering_innkalling_forsinket", "Eskalering: innkallingen er ikke klar i tide", form="eskalering",
               groups="leder", doc="004 11.4 «Innkalling sendes minst 14 dager i forkant av møte».")
    cycle.end("forsinket_slutt", "Leder varslet")
    cycle.catch("innkallingsfrist", "Innkallingsfrist (møtedato − varslingsfrist)", timer=("timeDate", INNKALLINGSFRIST),
                doc="004 11.4: innkallingen sendes når det er varslingsfristen (standard 14 dager) igjen til møtet.")
    cycle.throw("send_innkalling", "Innkalling sendes", message="innkalling", payload=_moete_payload(),
                doc="004 11.4 «Innkalling og referat»: e-post med kalenderinvitasjon til deltakerne (utsendinger).")
    cycle.xor("moete_merge")
    cycle.user("moete", "Gjennomføre møtet og skrive referat", form="ansvarsgruppe_moete", groups="koordinator",
               due="moetetid",
               doc="004 11.4 «Innkalling og referat»: referatet har samme punkter som sakslisten og omfatter bare "
                   "beslutninger og ansvarsfordeling; faglig uenighet referatføres; referenten forsikrer seg om at "
                   "beslutningene er rett oppfattet. Første møte avklarer faste medlemmer, leder, mål og ansvar.")
    cycle.xor("moete_gw", "Hva skjedde med møtet?")
    cycle.throw("send_endring", "Endret innkalling sendes", message="innkalling_endret", payload=_moete_payload(),
                doc="Flyttet møte: oppdatert kalenderinvitasjon til deltakerne.")
    cycle.throw("send_avlysning", "Avlysning sendes", message="moete_avlyst", payload=_moete_payload(),
                doc="Avlyst møte: kalenderavlysning til deltakerne.")
    cycle.user("nytt_moete", "Avtale nytt møtetidspunkt", form="ansvarsgruppe_nytt_moete", groups="koordinator",
               doc="004 11.4 «Hyppighet»: gruppen møtes minst to ganger i året.")
    cycle.script("registrer_nytt", "Registrer nytt møte", code='moete_nr = moete_nr + 1\nmoete_id = "m" + str(moete_nr)',
                 doc="Bare dataflytting: nytt møtenummer (ny kalender-UID).")
    cycle.throw("send_referat", "Referat sendes", message="referat",
                payload={"moete_id": "moete_id", "gjelder": "gjelder", "tidspunkt": "moetetid", "sted": "sted",
                         "gruppe": GRUPPE, "beslutninger": '[b["beslutning"] for b in beslutninger]',
                         "ansvarsfordeling": "ansvarsfordeling", "faglig_uenighet": 'faglig_uenighet or ""',
                         "mottakere": "faste_medlemmer + (referat_ekstra_mottakere or [])",
                         "neste_moete": 'neste_moetetid if videre == "fortsette" else None'},
                doc="004 11.4: referat sendes til faste medlemmer og til ekstra innkalte som har kommet med innspill "
                    "som refereres eller har fått oppgaver.")
    cycle.end("periode_slutt", "Møtet holdt")
    cycle.chain("periode_start", "forberede_merge", "forberede_innkalling", "innkallingsfrist", "send_innkalling",
                "moete_merge", "moete", "moete_gw")
    cycle.chain("innkalling_forsinket", "eskalering_innkalling_forsinket", "forsinket_slutt")
    cycle.flow("moete_gw", "send_referat", name="Gjennomført", condition='moete_status == "gjennomfort"')
    cycle.flow("moete_gw", "send_endring", name="Flyttet", condition='moete_status == "flyttet"')
    cycle.flow("moete_gw", "send_avlysning", name="Avlyst", default=True)
    cycle.flow("send_endring", "moete_merge")
    cycle.chain("send_avlysning", "nytt_moete", "registrer_nytt", "forberede_merge")
    cycle.flow("send_referat", "periode_slutt")
    life = Process("gruppens_moeter", "Gruppens møter")
    life.start("moeter_start", "Første møte avtalt")
    life.xor("syklus_merge")
    life.subprocess("moeteperiode", "Møteperiode: fra ett møte til det neste", cycle,
                    doc="004 11.4 «Hyppighet»: møtes etter behov, men minst to ganger i året.")
    life.boundary("seks_maaneder", "Seks måneder uten møte", attached_to="moeteperiode",
                  timer=("timeDate", "iso(add_months(siste_moete, 6))"), interrupting=False,
                  doc="004 11.4: minst to møter i året. Holdes ikke møte innen seks måneder etter forrige, varsles "
                      "leder og koordinerende enhet.")
    life.and_("eskaler_split", "Varsle leder og KE")
    life.user("eskalering_seks_maaneder_leder", "Eskalering: ingen møte på seks måneder", form="eskalering",
              groups="leder", doc="004 11.4 «Hyppighet».")
    life.user("eskalering_seks_maaneder_ke", "Eskalering: ansvarsgruppe uten møte på seks måneder",
              form="eskalering", groups="koordinerende_enhet", doc="004 11.4; § 6: KE har det overordnede ansvaret.")
    life.end("eskalert_leder", "Leder har fulgt opp")
    life.end("eskalert_ke", "KE har fulgt opp")
    life.xor("videre_gw", "Videre behov for gruppen?",
             doc="004 11.4 «Oppløsning»: gruppen oppløses når det etter en felles evaluering ikke lenger er behov.")
    life.script("registrer_neste", "Registrer neste møte",
                code='siste_moete = moetetid\nmoetetid = neste_moetetid\nmoete_nr = moete_nr + 1\nmoete_id = "m" + str(moete_nr)',
                doc="Bare dataflytting: neste møte blir gjeldende, forrige møte starter seksmånedersfristen.")
    life.end("moeter_slutt", "Felles evaluering: ikke lenger behov")
    life.chain("moeter_start", "syklus_merge", "moeteperiode", "videre_gw")
    life.flow("videre_gw", "registrer_neste", name="Fortsette", condition='videre == "fortsette"')
    life.flow("videre_gw", "moeter_slutt", name="Oppløse", default=True)
    life.flow("registrer_neste", "syklus_merge")
    life.chain("seks_maaneder", "eskaler_split")
    life.flow("eskaler_split", "eskalering_seks_maaneder_leder")
    life.flow("eskaler_split", "eskalering_seks_maaneder_ke")
    life.flow("eskalering_seks_maaneder_leder", "eskalert_leder")
    life.flow("eskalering_seks_maaneder_ke", "eskalert_ke")
    p.subprocess("gruppens_moeter", "Gruppens møter (til gruppen oppløses)", life, lane=KOORD,
                 doc="004 11.4: gruppen møtes til den oppløses etter felles evaluering eller fordi tjenestemottaker "
                     "ikke lenger ønsker den.")
    p.boundary("onskes_ikke", "Tjenestemottaker ønsker ikke lenger gruppen", attached_to="gruppens_moeter",
               message="ansvarsgruppe_onskes_ikke",
               doc="004 11.4 «Oppløsning av ansvarsgrupper»: gruppen oppløses når tjenestemottaker ikke lenger ønsker "
                   "den. Avbryter møteperioden.")
    p.xor("opplosning_merge", lane=KOORD)
    p.user("opplosning", "Oppløse ansvarsgruppen", lane=KOORD, form="ansvarsgruppe_opplosning",
           doc="004 11.4 «Oppløsning av ansvarsgrupper»: er det fortsatt behov for samarbeid, må tillatelse til "
               "tverrfaglige samarbeidsmøter innhentes. Gruppen kan gjenopprettes ved nye behov.")
    p.end("slutt", "Ansvarsgruppen oppløst", lane=KOORD)
    failed = Process("utsending_feilet_innhold", "Utsending feilet")
    failed.start("utsending_feilet_start", "Utsending feilet", message="utsending_feilet", interrupting=False,
                 doc="En innkalling eller et referat kunne ikke leveres etter gjentatte forsøk (utsendinger).")
    failed.user("eskalering_utsending_feilet", "Eskalering: innkalling eller referat ble ikke levert", form="eskalering",
                groups="leder", doc="004 11.4: innkalling minst 14 dager før; referat til faste medlemmer.")
    failed.end("utsending_feilet_slutt", "Leder har fulgt opp")
    failed.chain("utsending_feilet_start", "eskalering_utsending_feilet", "utsending_feilet_slutt")
    p.subprocess("utsending_feilet", "Utsending feilet (varsel til leder)", failed, lane=LEDER, triggered_by_event=True,
                 doc="Utsendinger: e-post som ikke kan leveres blir en oppgave for leder.")
    p.chain("start", "opprettelse", "registrer_forste", "gruppens_moeter", "opplosning_merge", "opplosning", "slutt")
    p.flow("onskes_ikke", "opplosning_merge")
    return p


def ansvarsgruppe_forms(folder: Path) -> None:
    frist = {"regel": "varslingsfrist"}
    write_form(folder, "ansvarsgruppe_start", "Opprette ansvarsgruppe", [
        tekst("gjelder", "Hvem gjelder gruppen?", description=GJELDER_HJELP, maxLength=80),
        bekreft("gjenoppretting", "Gruppen gjenopprettes etter en tidligere oppløsning", required=False),
    ])
    write_form(folder, "ansvarsgruppe_opprettelse", "Kalle inn til første møte", [
        info("Faginstansen som behovet er meldt til, tar initiativ og kaller inn til første møte (004 11.4). "
             "Første møte avklarer faste medlemmer, leder, mål og ansvarsfordeling."),
        tekst("gjelder", "Hvem gjelder gruppen?", description=GJELDER_HJELP, maxLength=80),
        liste("faste_medlemmer", "Foreslåtte faste medlemmer (innkalles til første møte)", deltaker_felter(),
              description="Navngitte personer utenom tjenestemottaker/pårørende (004 11.4)."),
        tall("varslingsfrist_dager", "Varslingsfrist for innkalling (dager før møtet)", minimum=14, maximum=60,
             default=14, description="Minst 14 dager (004 11.4)."),
        tidspunkt("moetetid", "Tid for første møte", properties=frist),
        tekst("sted", "Sted for første møte"),
    ])
    write_form(folder, "ansvarsgruppe_forberede", "Forberede innkalling", [
        info("Møtet gjelder **{{gjelder}}** og holdes {{moetetid}} – {{sted}}. Innkallingen sendes automatisk når det "
             "er {{varslingsfrist_dager}} dager igjen, med kalenderinvitasjon til deltakerne."),
        liste("saksliste", "Saksliste", [tekst("punkt", "Sak")],
              description="Skriv sakstitler uten helseopplysninger; innkallingen sendes på e-post."),
        liste("ekstra_innkalte", "Andre som innkalles ved behov (ikke faste medlemmer)", deltaker_felter(),
              required=False),
        janei("tjenestemottaker_deltar", "Deltar tjenestemottaker/pårørende i møtet?"),
        lang("formoete_medlemmer", "Hvilke to medlemmer møter tjenestemottaker før og etter møtet?",
             description="Alternativ organisering (004 11.4).", hide='=tjenestemottaker_deltar != "nei"'),
    ])
    gjennomfort_skjult = '=moete_status != "gjennomfort"'
    write_form(folder, "ansvarsgruppe_moete", "Møtet og referatet", [
        info("Møtet gjelder **{{gjelder}}**: {{moetetid}}, {{sted}}."),
        valg("moete_status", "Hva skjedde med møtet?", [
            ("gjennomfort", "Møtet er gjennomført – skriv referat"), ("flyttet", "Møtet er flyttet"),
            ("avlyst", "Møtet er avlyst")]) | {"properties": {"regel": "etter_moetetidspunkt"}},
        tidspunkt("moetetid", "Nytt tidspunkt", hide='=moete_status != "flyttet"', properties=frist),
        tekst("sted", "Sted", hide='=moete_status != "flyttet"'),
        info("**Referat** (004 11.4): samme punkter som sakslisten; bare beslutninger og ansvarsfordeling. "
             "Referenten forsikrer seg om at beslutningene er rett oppfattet før møtet oppløses."),
        liste("faste_medlemmer", "Faste medlemmer (oppdater ved endringer)", deltaker_felter(), hide=gjennomfort_skjult),
        tekst("gruppeleder", "Hvem leder gruppen? (brukernavn)", hide='=moete_status != "gjennomfort" or moete_nr > 1',
              properties={"regel": "bruker"}),
        dato("gruppeleder_til", "Ledelsen gjelder til (når koordinator ikke er oppnevnt)", required=False,
             hide='=moete_status != "gjennomfort" or moete_nr > 1'),
        lang("mal", "Mål for arbeidet i gruppen", hide='=moete_status != "gjennomfort" or moete_nr > 1'),
        liste("beslutninger", "Beslutninger", [tekst("beslutning", "Beslutning")], hide=gjennomfort_skjult),
        liste("ansvarsfordeling", "Ansvarsfordeling (hvem gjør hva)", [
            tekst("oppgave", "Oppgave"), tekst("ansvarlig", "Ansvarlig"), dato("frist", "Frist", required=False)],
            hide=gjennomfort_skjult),
        lang("faglig_uenighet", "Faglig uenighet", required=False, hide=gjennomfort_skjult,
             description="Faglig uenighet skal referatføres (004 11.4)."),
        valg("tjenestemottaker_svar", "Tjenestemottaker deltok ikke: forslagene er lagt fram, og hen har svart",
             [("ja", "Ja til forslagene"), ("nei", "Nei til forslagene"), ("delvis", "Delvis"),
              ("ikke_aktuelt", "Ikke aktuelt – tjenestemottaker deltok")], hide=gjennomfort_skjult),
        liste("referat_ekstra_mottakere", "Ekstra innkalte som har kommet med innspill eller fått oppgaver",
              deltaker_felter(), required=False, hide=gjennomfort_skjult),
        bekreft("beslutninger_bekreftet", "Referenten har forsikret seg om at beslutningene er rett oppfattet",
                hide=gjennomfort_skjult),
        bekreft("tilbud_koordinator_ip", "Arbeidet er langvarig: tjenestemottaker er informert om og tilbudt "
                "koordinator og individuell plan", required=False, hide=gjennomfort_skjult),
        valg("videre", "Videre arbeid i gruppen", [("fortsette", "Neste møte er avtalt"),
                                                   ("opplose", "Gruppen bør oppløses (felles evaluering)")],
             hide=gjennomfort_skjult),
        tidspunkt("neste_moetetid", "Tidspunkt for neste møte", hide='=moete_status != "gjennomfort" or videre != "fortsette"',
                  properties={"regel": "neste_moete"}),
    ])
    write_form(folder, "ansvarsgruppe_nytt_moete", "Avtale nytt møtetidspunkt", [
        tidspunkt("moetetid", "Nytt møtetidspunkt", properties=frist),
        tekst("sted", "Sted"),
    ])
    write_form(folder, "ansvarsgruppe_opplosning", "Oppløse ansvarsgruppen", [
        valg("opplosning_grunn", "Hvorfor oppløses gruppen?", [
            ("felles_evaluering", "Felles evaluering: ikke lenger behov"),
            ("onsker_ikke", "Tjenestemottaker ønsker ikke lenger gruppen")]),
        janei("fortsatt_behov_for_samarbeid", "Er det fortsatt behov for samarbeid mellom faginstansene?",
              hide='=opplosning_grunn != "onsker_ikke"'),
        janei("samtykke_tverrfaglige_moeter", "Har tjenestemottaker gitt tillatelse til tverrfaglige samarbeidsmøter?",
              description="Må innhentes når det fortsatt er behov for samarbeid (004 11.4).",
              hide='=opplosning_grunn != "onsker_ikke" or fortsatt_behov_for_samarbeid != "ja"'),
        lang("opplosning_kommentar", "Kommentar", required=False),
    ])
    write_form(folder, "eskalering", "Eskalering", [
        info("Denne oppgaven er en eskalering. Følg opp og dokumenter hva som er gjort."),
        lang("eskalering_tiltak", "Hva er gjort, og hva skal skje videre?"),
    ])


CITATIONS = {
    "samarbeid": {
        "slutt_samordnet": "003 «Samordningsplikt for kommunen»: samordningen er avklart; ikke behov for langvarige og "
                           "koordinerte tjenester (004 § 5), så ingen melding til koordinerende enhet.",
    },
    "oppstart": {
        "planarbeid_start": "Forskrift § 17 (002 kap. 13): samtykke er gitt; planarbeidet kan starte (004 § 7 trinn 5).",
        "planarbeid_slutt": "004 § 10: planarbeidet er avsluttet med dokumentert grunn.",
        "samtykke_trukket_slutt": "Forskrift § 17 og 002 kap. 5: uten samtykke kan planarbeidet ikke fortsette.",
    },
    "skifte_av_koordinator": {
        "slutt_ikke_skifte": "004 11.2 trinn 1: nærmeste overordnet har ikke funnet behov for skifte.",
        "slutt_ny": "004 11.2 trinn 6: ny koordinator har overtatt rollen.",
    },
    "ansvarsgruppe": {
        "registrer_forste": "004 11.4. Bare dataflytting: nummererer møtet (stabil kalender-UID) og starter "
                            "seksmånedersfristen (minst to møter i året).",
        "moeter_start": "004 11.4 «Opprettelse»: første møte er avtalt og innkalt.",
        "forsinket_slutt": "004 11.4 «Innkalling og referat»: leder er varslet om forsinket innkalling.",
        "moete_gw": "004 11.4: møtet holdes, flyttes eller avlyses; neste møte avtales før medlemmene går.",
        "send_endring": "004 11.4 «Innkalling og referat»: deltakerne får endret tid/sted med oppdatert kalender.",
        "send_avlysning": "004 11.4: avlyst møte meldes deltakerne, og nytt møte avtales.",
        "registrer_nytt": "004 11.4. Bare dataflytting: nytt møtenummer (ny kalender-UID).",
        "periode_slutt": "004 11.4 «Hyppighet»: møtet er holdt og referatet sendt.",
        "eskaler_split": "004 11.4 «Hyppighet» og § 6: både leder og KE varsles.",
        "eskalert_leder": "004 11.4 «Hyppighet».",
        "eskalert_ke": "004 § 6: KE har det overordnede ansvaret.",
        "registrer_neste": "004 11.4 «Hyppighet». Bare dataflytting: neste møte blir gjeldende, forrige møte starter "
                           "seksmånedersfristen.",
        "moeter_slutt": "004 11.4 «Oppløsning»: felles evaluering finner ikke lenger behov.",
        "slutt": "004 11.4 «Oppløsning av ansvarsgrupper»; gruppen kan gjenopprettes ved nye behov.",
        "utsending_feilet": "004 11.4 «Innkalling og referat»: innkalling og referat skal nå deltakerne.",
        "utsending_feilet_start": "004 11.4 «Innkalling og referat»: en utsending kom ikke fram etter gjentatte forsøk.",
        "utsending_feilet_slutt": "004 11.4 «Innkalling og referat».",
    },
}


def cite(process: Process, citations: dict[str, str]) -> Process:
    """Add seed citations to elements drafted without one (subprocesses included)."""
    for node in process.nodes.values():
        if node.id in citations and not re.search(r"\b00[0-4]\b", node.documentation or ""):
            node.documentation = citations[node.id]
        if node.sub is not None:
            cite(node.sub, citations)
    return process


def main(force: bool) -> int:
    processes, forms = ROOT / "processes", ROOT / "forms"
    processes.mkdir(exist_ok=True)
    forms.mkdir(exist_ok=True)
    diagrams = {
        "samarbeid.bpmn": cite(samarbeid(), CITATIONS["samarbeid"]).to_xml(),
        "rett_til_barnekoordinator.dmn": BARNEKOORDINATOR_DMN,
        "oppstart.bpmn": cite(oppstart(), CITATIONS["oppstart"]).to_xml(),
        "opprettelse_av_koordinator.bpmn": opprettelse_av_koordinator().to_xml(),
        "skifte_av_koordinator.bpmn": cite(skifte_av_koordinator(), CITATIONS["skifte_av_koordinator"]).to_xml(),
        "ansvarsgruppe.bpmn": cite(ansvarsgruppe(), CITATIONS["ansvarsgruppe"]).to_xml(),
    }
    existing = [name for name in diagrams if (processes / name).exists()]
    if existing and not force:
        print(f"finnes allerede: {', '.join(existing)} (bruk --force for å overskrive)", file=sys.stderr)
        return 1
    for name, content in diagrams.items():
        (processes / name).write_text(content)
    for write in (samarbeid_forms, oppstart_forms, koordinator_forms, skifte_forms, ansvarsgruppe_forms):
        write(forms)
    return 0


if __name__ == "__main__":
    sys.exit(main("--force" in sys.argv))
