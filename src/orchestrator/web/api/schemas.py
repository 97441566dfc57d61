"""marshmallow schemas of the JSON API: what requests may carry and what responses contain.

They also drive the OpenAPI document (api/openapi.py), so the documentation cannot drift
from what the views load and dump.
"""
from __future__ import annotations

import re

from marshmallow import RAISE, Schema, ValidationError, fields, validate

from ...services.instances import STATUSES
from ...services.notices.constants import KINDS as NOTICE_KINDS, STATUSES as NOTICE_STATUSES
from ...services.processes import KINDS

MESSAGES = {
    "required": "Feltet må fylles ut.",
    "null": "Feltet kan ikke være tomt (null).",
    "invalid": "Ugyldig verdi.",
}
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _no_control_characters(value: str) -> None:
    if _CONTROL.search(value):
        raise ValidationError("Teksten inneholder kontrolltegn.")


def text(max_length: int = 200, **kwargs) -> fields.String:
    """A string without control characters (PostgreSQL refuses NUL bytes) and of bounded length."""
    return fields.String(
        validate=[validate.Length(max=max_length, error=f"Høyst {max_length} tegn."), _no_control_characters],
        error_messages={**MESSAGES, "invalid": "Skriv tekst."}, **kwargs)


class RequestSchema(Schema):
    class Meta:
        unknown = RAISE

    error_messages = {"unknown": "Ukjent felt.", "type": "Forventet et JSON-objekt."}


# --- common --------------------------------------------------------------------------------


class ErrorSchema(Schema):
    message = fields.String(required=True, metadata={"description": "What went wrong, in Norwegian."})
    errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()),
                         metadata={"description": "422: per-field messages, keyed by the field's path."})
    problems = fields.List(fields.Nested(lambda: ProblemSchema()),
                           metadata={"description": "422 on deploy: what is wrong, where."})


class ProblemSchema(Schema):
    file = fields.String(required=True)
    element_id = fields.String(allow_none=True)
    line = fields.Integer(allow_none=True)
    message = fields.String(required=True, metadata={"description": "What is wrong, in words a process owner acts on."})
    detail = fields.String(allow_none=True, metadata={"description": "What the parser or engine said (technical)."})


class PageQuery(RequestSchema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100_000, error="Fra 1 til 100000."),
                          error_messages={"invalid": "Skriv et helt tall."})
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200, error="Fra 1 til 200."),
                              error_messages={"invalid": "Skriv et helt tall."})


def page_of(item: type[Schema], name: str) -> type[Schema]:
    return Schema.from_dict({
        "items": fields.List(fields.Nested(item), required=True),
        "total": fields.Integer(required=True),
        "page": fields.Integer(required=True),
        "per_page": fields.Integer(required=True),
    }, name=name)


class MeSchema(Schema):
    username = fields.String(required=True)
    roles = fields.List(fields.String(), required=True)
    services = fields.List(fields.String(), required=True, metadata={"description": "the services (tjenester) the user belongs to"})


# --- processes -----------------------------------------------------------------------------


class ProcessVersionSchema(Schema):
    key = fields.String(required=True)
    version = fields.Integer(required=True)
    kind = fields.String(required=True, metadata={"enum": list(KINDS)})
    name = fields.String(allow_none=True)
    filename = fields.String(required=True)
    deployed_at = fields.DateTime(required=True)
    deployed_by = fields.String(allow_none=True)
    running_instances = fields.Integer(required=True)
    origin = fields.String(allow_none=True, metadata={
        "enum": ["file", "upload", "browser", "api", None],
        "description": "where the content came from; null: deployed before this was recorded"})


class ProcessSchema(Schema):
    key = fields.String(required=True)
    kind = fields.String(required=True, metadata={"enum": list(KINDS)})
    name = fields.String(allow_none=True)
    latest_version = fields.Integer(required=True)
    deployed_at = fields.DateTime(required=True)
    deployed_by = fields.String(allow_none=True)
    running_instances = fields.Integer(required=True)
    versions = fields.List(fields.Nested(ProcessVersionSchema), required=True)


ProcessPageSchema = page_of(ProcessSchema, "ProcessPage")


class ProcessQuery(PageQuery):
    kind = fields.String(validate=validate.OneOf(KINDS, error="Bruk bpmn, dmn eller form."))


class DeployedSchema(Schema):
    key = fields.String(required=True)
    version = fields.Integer(required=True)
    kind = fields.String(required=True)
    filename = fields.String(required=True)
    changed = fields.Boolean(required=True, metadata={"description": "false: identical to the latest version"})
    note = fields.String(allow_none=True, metadata={"description": "why a file was left out"})


class DeployResultSchema(Schema):
    key = fields.String(required=True, metadata={"description": "the (first) process deployed"})
    version = fields.Integer(required=True)
    kind = fields.String(required=True)
    changed = fields.Boolean(required=True)
    deployed = fields.List(fields.Nested(DeployedSchema), required=True)


class DocumentQuery(RequestSchema):
    key = text(metadata={"description": "a form's key (required for a form-js JSON body)"})


class CheckResultSchema(Schema):
    ok = fields.Boolean(required=True, metadata={"description": "true: deploy would accept it"})
    problems = fields.List(fields.Nested(ProblemSchema), required=True)


class DraftQuery(RequestSchema):
    base_version = fields.Integer(validate=validate.Range(min=1, max=1_000_000, error="Fra 1."),
                                  error_messages={"invalid": "Skriv et helt tall."},
                                  metadata={"description": "the version the draft was opened from"})


class DraftSchema(Schema):
    key = fields.String(required=True)
    kind = fields.String(required=True, metadata={"enum": list(KINDS)})
    base_version = fields.Integer(allow_none=True)
    latest_version = fields.Integer(allow_none=True)
    behind = fields.Boolean(required=True, metadata={"description": "a newer version was deployed since"})
    saved_at = fields.DateTime(required=True)
    saved_by = fields.String(allow_none=True)


class DiffQuery(RequestSchema):
    against = fields.Integer(required=True, validate=validate.Range(min=1, max=1_000_000, error="Fra 1."),
                             error_messages={"invalid": "Skriv et helt tall.", "required": "Påkrevd."},
                             metadata={"description": "the version to compare with"})


class VersionDiffSchema(Schema):
    key = fields.String(required=True)
    version = fields.Integer(required=True)
    other = fields.Integer(required=True)
    added = fields.List(fields.String(), required=True, metadata={"description": "element ids only in `version`"})
    removed = fields.List(fields.String(), required=True, metadata={"description": "element ids only in `other`"})
    changed = fields.List(fields.String(), required=True, metadata={"description": "element ids in both, different"})


class MigrationRequestSchema(RequestSchema):
    to_version = fields.Integer(required=True, strict=True,
                                validate=validate.Range(min=1, max=1_000_000, error="Fra 1."),
                                error_messages={"invalid": "Skriv et helt tall.", "required": "Påkrevd."},
                                metadata={"description": "the version the running cases move to"})
    dry_run = fields.Boolean(load_default=True, metadata={
        "description": "true (the default): only say what would happen to each case; false: move every case that maps"})
    mapping = fields.Dict(keys=text(), values=text(), load_default=dict, metadata={
        "description": "renamed elements: old element id -> new element id"})
    instances = fields.List(fields.Integer(strict=True, validate=validate.Range(min=1, max=2**31 - 1)),
                            allow_none=True, validate=validate.Length(max=10_000), metadata={
                                "description": "only these instances (default: every running case on an older version)"})


class PlacementSchema(Schema):
    kind = fields.String(required=True, metadata={"enum": ["oppgave", "tidtaker", "melding", "delprosess", "venter"]})
    element_id = fields.String(required=True)
    name = fields.String(allow_none=True)
    target_id = fields.String(allow_none=True, metadata={"description": "null: no element in the target version"})
    target_name = fields.String(allow_none=True)


class TimerMoveSchema(Schema):
    element_id = fields.String(required=True)
    name = fields.String(allow_none=True)
    before = fields.DateTime(allow_none=True)
    after = fields.DateTime(allow_none=True)
    changed = fields.Boolean(required=True, metadata={"description": "its definition differs in the target version"})


class DataNeedSchema(Schema):
    name = fields.String(required=True)
    element_id = fields.String(required=True)
    element_name = fields.String(allow_none=True)
    what = fields.String(required=True)


class InstancePlanSchema(Schema):
    instance_id = fields.Integer(required=True)
    business_key = fields.String(allow_none=True)
    from_version = fields.Integer(required=True)
    movable = fields.Boolean(required=True)
    moved = fields.Boolean(required=True)
    placements = fields.List(fields.Nested(PlacementSchema), required=True)
    timers = fields.List(fields.Nested(TimerMoveSchema), required=True)
    refusals = fields.List(fields.String(), required=True, metadata={"description": "why it cannot move, naming the element"})
    notes = fields.List(fields.String(), required=True)
    missing_data = fields.List(fields.Nested(DataNeedSchema), required=True,
                               metadata={"description": "data the target version reads that the case lacks (best effort)"})


class UnmappedSchema(Schema):
    element_id = fields.String(required=True)
    name = fields.String(allow_none=True)
    instances = fields.Integer(required=True)
    suggestion = fields.String(allow_none=True, metadata={"description": "SpiffWorkflow's guess by place in the flow"})


class TargetElementSchema(Schema):
    element_id = fields.String(required=True)
    name = fields.String(allow_none=True)
    kind = fields.String(required=True)


class MigrationSchema(Schema):
    process_key = fields.String(required=True)
    process_name = fields.String(allow_none=True)
    target_version = fields.Integer(required=True)
    dry_run = fields.Boolean(required=True)
    mapping = fields.Dict(keys=fields.String(), values=fields.String(), required=True)
    movable = fields.Integer(required=True)
    refused = fields.Integer(required=True)
    moved = fields.Integer(required=True)
    instances = fields.List(fields.Nested(InstancePlanSchema), required=True)
    unmapped = fields.List(fields.Nested(UnmappedSchema), required=True)
    target_elements = fields.List(fields.Nested(TargetElementSchema), required=True)
    limits = fields.List(fields.String(), required=True, metadata={"description": "what a dry run cannot know"})


# --- instances -----------------------------------------------------------------------------


class InstanceStartSchema(RequestSchema):
    process_key = text(required=True)
    business_key = text(100, required=True, metadata={
        "description": "the case's saksnummer (never a national id), in the installation's format: by default year, "
                       "slash, serial number (`2027/1234`; ORCHESTRATOR_SAKSNUMMER_PATTERN). 422 when missing or "
                       "not in the format"})
    data = fields.Dict(keys=fields.String(), allow_none=True, error_messages={**MESSAGES, "invalid": "Forventet et objekt."})


class InstanceQuery(PageQuery):
    process_key = text()
    status = fields.String(validate=validate.OneOf(STATUSES, error=f"Bruk en av {', '.join(STATUSES)}."))
    business_key = text(100)


class InstanceSummarySchema(Schema):
    id = fields.Integer(required=True)
    process_key = fields.String(required=True)
    process_version = fields.Integer(required=True)
    process_name = fields.String(allow_none=True)
    business_key = fields.String(allow_none=True)
    status = fields.String(required=True, metadata={"enum": list(STATUSES)})
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)
    completed_at = fields.DateTime(allow_none=True)
    next_timer_at = fields.DateTime(allow_none=True)
    error = fields.String(allow_none=True)


InstancePageSchema = page_of(InstanceSummarySchema, "InstancePage")


class StartedSchema(InstanceSummarySchema):
    next_tasks = fields.List(fields.Nested(lambda: TaskSchema()), required=True,
                             metadata={"description": "the new case's open tasks you may do now (go on without a GET)"})
    continues_with = fields.Nested(lambda: TaskSchema(), allow_none=True, metadata={
        "description": "the first task you may do in the new case (not claimed: take it, or just complete it)"})


class InstanceTaskSchema(Schema):
    id = fields.String(required=True)
    element_id = fields.String(required=True)
    called_process = fields.String(allow_none=True, metadata={"description": "the called process it is in, if any"})
    name = fields.String(allow_none=True)
    role = fields.String(allow_none=True)
    service = fields.String(allow_none=True, metadata={
        "description": "the service (tjeneste) whose queue it is in; null: the role's common queue"})
    assignee = fields.String(allow_none=True)
    form_key = fields.String(allow_none=True)
    created_at = fields.DateTime(required=True)
    due_at = fields.DateTime(allow_none=True)


class TimerSchema(Schema):
    element_id = fields.String(required=True)
    name = fields.String(allow_none=True)
    due_at = fields.DateTime(required=True)
    kind = fields.String(required=True)


class HistorySchema(Schema):
    at = fields.DateTime(required=True)
    actor = fields.String(allow_none=True)
    action = fields.String(required=True)
    task_id = fields.String(allow_none=True)
    element_id = fields.String(allow_none=True)
    element_name = fields.String(allow_none=True)
    data = fields.Dict(allow_none=True)
    erased_at = fields.DateTime(allow_none=True, metadata={
        "description": "when `data` was erased after the retention period for audit data (who/what/when stay)"})


class InstanceDetailSchema(InstanceSummarySchema):
    data = fields.Dict(required=True)
    tasks = fields.List(fields.Nested(InstanceTaskSchema), required=True)
    timers = fields.List(fields.Nested(TimerSchema), required=True)
    history = fields.List(fields.Nested(HistorySchema), required=True)
    completed_elements = fields.List(fields.String(), required=True)
    walked = fields.List(fields.List(fields.String()), required=True,
                         metadata={"description": "(source element id, target element id) pairs that were walked"})
    active_elements = fields.List(fields.String(), required=True)
    waiting_messages = fields.List(fields.String(), required=True)
    limited = fields.Boolean(required=True, metadata={
        "description": "true: you see the case through your tasks only (your service's and your own): those "
                       "tasks and what you did; no case data, path or deadlines (docs/decisions/0022)"})


# --- tasks ---------------------------------------------------------------------------------


class TaskQuery(PageQuery):
    scope = fields.String(load_default="roles",
                          validate=validate.OneOf(("mine", "roles", "all"), error="Bruk mine, roles eller all."),
                          metadata={"description": "mine: assigned to me; roles: my roles' queues plus mine; "
                                                   "all: every open task (managers and koordinerende enhet)"})
    instance_id = fields.Integer(validate=validate.Range(min=1, max=2**31 - 1, error="Fra 1."),
                                 error_messages={"invalid": "Skriv et helt tall."},
                                 metadata={"description": "only the tasks of this instance"})
    business_key = text(100, metadata={"description": "only the tasks of this case (saksnummer)"})
    process_key = text(metadata={"description": "only the tasks of this process: the instance's process, or the "
                                                "called process a task is in (e.g. opprettelse_av_koordinator)"})


class TaskSchema(Schema):
    id = fields.String(required=True)
    instance_id = fields.Integer(required=True)
    process_key = fields.String(required=True)
    business_key = fields.String(allow_none=True)
    element_id = fields.String(required=True)
    name = fields.String(allow_none=True)
    role = fields.String(allow_none=True)
    service = fields.String(allow_none=True, metadata={
        "description": "the service (tjeneste) whose queue it is in; null: the role's common queue"})
    assignee = fields.String(allow_none=True)
    form_key = fields.String(allow_none=True)
    created_at = fields.DateTime(required=True)
    due_at = fields.DateTime(allow_none=True)
    overdue = fields.Boolean(required=True)
    called_process = fields.String(allow_none=True, metadata={
        "description": "the called process (call activity) the task is in; null: the instance's own process_key"})
    claimed_at = fields.DateTime(allow_none=True, metadata={"description": "when someone took it from the queue"})
    claimed_by = fields.String(allow_none=True, metadata={
        "description": "who took it from the queue; null when nobody did, or it was assigned by a rule (assignee)"})


TaskPageSchema = page_of(TaskSchema, "TaskPage")


class OptionSchema(Schema):
    value = fields.String(required=True)
    label = fields.String(required=True)


class FormFieldSchema(Schema):
    type = fields.String(required=True)
    key = fields.String(allow_none=True, metadata={"description": "data key (path for group/dynamiclist)"})
    label = fields.String(allow_none=True)
    description = fields.String(allow_none=True)
    text = fields.String(allow_none=True)
    required = fields.Boolean(required=True)
    min_length = fields.Integer(allow_none=True)
    max_length = fields.Integer(allow_none=True)
    minimum = fields.Float(allow_none=True)
    maximum = fields.Float(allow_none=True)
    pattern = fields.String(allow_none=True)
    validation_type = fields.String(allow_none=True)
    options = fields.Method("_options", allow_none=True,
                            metadata={"type": "array", "items": {"$ref": "#/components/schemas/Option"},
                                      "nullable": True})
    subtype = fields.String(allow_none=True)
    decimal_digits = fields.Integer(allow_none=True)
    readonly = fields.Boolean(required=True)
    hide_if = fields.String(allow_none=True, metadata={"description": "form-js conditional.hide (FEEL)"})
    default = fields.Raw(allow_none=True)
    properties = fields.Dict(keys=fields.String(), values=fields.String())
    children = fields.List(fields.Nested(lambda: FormFieldSchema()), required=True)

    def _options(self, obj):
        return None if obj.options is None else [{"value": v, "label": label} for v, label in obj.options]


class FormSchema(Schema):
    key = fields.String(required=True)
    title = fields.String(allow_none=True)
    components = fields.List(fields.Nested(FormFieldSchema), required=True)


class TaskDetailSchema(TaskSchema):
    process_name = fields.String(allow_none=True)
    documentation = fields.String(allow_none=True)
    data = fields.Dict(required=True, metadata={
        "description": "the task's current data; for those who see the case through their tasks, only what the "
                       "task's form and guidance need"})
    form = fields.Nested(FormSchema, allow_none=True)
    may_act = fields.Boolean(required=True, metadata={"description": "whether you may claim/complete it now"})


class CompleteSchema(RequestSchema):
    data = fields.Dict(keys=fields.String(), allow_none=True, load_default=dict,
                       error_messages={**MESSAGES, "invalid": "Forventet et objekt."})


class CompletedSchema(Schema):
    task_id = fields.String(required=True)
    instance_id = fields.Integer(required=True)
    instance_status = fields.String(required=True)
    next_tasks = fields.List(fields.Nested(TaskSchema), required=True,
                             metadata={"description": "open tasks of the same case you may do next"})
    continues_with = fields.Nested(TaskSchema, allow_none=True, metadata={
        "description": "the task you go on with in the same case: already yours, or the first one in a queue of "
                       "yours, claimed for you now (release it to put it back); null: nothing for you next"})


# --- messages ------------------------------------------------------------------------------


class MessageSchema(RequestSchema):
    business_key = text(100, required=True)
    data = fields.Dict(keys=fields.String(), allow_none=True, error_messages={**MESSAGES, "invalid": "Forventet et objekt."})


class DeliverySchema(Schema):
    message = fields.String(required=True)
    instance_id = fields.Integer(required=True)
    started = fields.Boolean(required=True)


class DeliveriesSchema(Schema):
    deliveries = fields.List(fields.Nested(DeliverySchema), required=True)


# --- notices («Utsendinger») ------------------------------------------------------------------


class NoticeQuery(PageQuery):
    status = fields.String(validate=validate.OneOf(NOTICE_STATUSES, error=f"Bruk en av {', '.join(NOTICE_STATUSES)}."))
    business_key = text(100, metadata={"description": "only the notices of this case (saksnummer)"})
    kind = fields.String(validate=validate.OneOf(NOTICE_KINDS, error=f"Bruk en av {', '.join(NOTICE_KINDS)}."))
    instance_id = fields.Integer(validate=validate.Range(min=1, max=2**31 - 1, error="Fra 1."),
                                 error_messages={"invalid": "Skriv et helt tall."})


class NoticeSchema(Schema):
    id = fields.Integer(required=True)
    instance_id = fields.Integer(allow_none=True)
    business_key = fields.String(allow_none=True)
    process_key = fields.String(allow_none=True)
    kind = fields.String(required=True, metadata={"enum": list(NOTICE_KINDS)})
    kind_label = fields.String(required=True, metadata={"description": "the kind in Norwegian"})
    meeting_at = fields.DateTime(allow_none=True)
    meeting_place = fields.String(allow_none=True)
    method = fields.String(allow_none=True, metadata={"description": "the invite's iCalendar method: REQUEST, CANCEL"})
    recipient = fields.String(required=True, metadata={"description": "the e-mail address (one notice per recipient)"})
    recipient_name = fields.String(allow_none=True)
    subject = fields.String(required=True)
    status = fields.String(required=True, metadata={"enum": list(NOTICE_STATUSES)})
    status_label = fields.String(required=True, metadata={"description": "the status in Norwegian"})
    attempts = fields.Integer(required=True)
    max_attempts = fields.Integer(required=True)
    next_attempt_at = fields.DateTime(allow_none=True)
    last_error = fields.String(allow_none=True)
    created_at = fields.DateTime(required=True)
    sent_at = fields.DateTime(allow_none=True)
    sending_now = fields.Boolean(required=True, metadata={"description": "a worker is attempting it right now"})


class NoticePageSchema(page_of(NoticeSchema, "NoticePageBase")):
    counts = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True,
                         metadata={"description": "notices per status over the same filters (status aside)"})


class NoticeContentSchema(Schema):
    headers = fields.Dict(keys=fields.String(), values=fields.String(), required=True)
    text = fields.String(required=True)
    html = fields.String(allow_none=True)
    calendar = fields.String(allow_none=True, metadata={"description": "the iCalendar invite, when it carries one"})


class NoticeDetailSchema(NoticeSchema):
    content = fields.Nested(NoticeContentSchema, allow_none=True)


# --- dashboard -----------------------------------------------------------------------------


class DueItemSchema(Schema):
    instance_id = fields.Integer(required=True)
    business_key = fields.String(allow_none=True)
    process_key = fields.String(required=True)
    what = fields.String(required=True)
    due_at = fields.DateTime(allow_none=True)
    task_id = fields.String(allow_none=True)
    assignee = fields.String(allow_none=True)


class CoordinatorLoadSchema(Schema):
    username = fields.String(required=True)
    display_name = fields.String(allow_none=True)
    active_plans = fields.Integer(required=True)
    limit = fields.Integer(required=True)
    at_limit = fields.Boolean(required=True)
    over_limit = fields.Boolean(required=True)


class OverviewSchema(Schema):
    generated_at = fields.DateTime(required=True)
    innkallinger_due_soon = fields.List(fields.Nested(DueItemSchema), required=True)
    innkallinger_overdue = fields.List(fields.Nested(DueItemSchema), required=True)
    groups_without_meeting = fields.List(fields.Nested(DueItemSchema), required=True)
    coordinator_load = fields.List(fields.Nested(CoordinatorLoadSchema), required=True)
    escalations_open = fields.List(fields.Nested(DueItemSchema), required=True)
    failed_notices = fields.List(fields.Nested(DueItemSchema), required=True)
    instances_in_error = fields.List(fields.Nested(DueItemSchema), required=True)


# --- the case's consent (decision 0016) --------------------------------------------------------------


class ConsentChangeSchema(RequestSchema):
    handling = fields.String(required=True, validate=validate.OneOf(("gi", "utvid", "endre", "trekk_tilbake")),
                             metadata={"description": "gi (new consent), utvid (add purposes/services), endre "
                                                      "(replace; may narrow), trekk_tilbake (withdraw)"})
    dato = fields.Date(allow_none=True, metadata={"description": "when the person gave, extended or withdrew it"})
    gitt_av = fields.String(allow_none=True, validate=validate.OneOf(("bruker", "foresatte", "verge")))
    form = fields.String(allow_none=True, validate=validate.OneOf(("muntlig", "skriftlig")))
    omfatter = fields.List(text(50), allow_none=True, validate=validate.Length(max=10),
                           metadata={"description": "koordinator, individuell_plan, ansvarsgruppe, "
                                                    "tverrfaglige_samarbeidsmoeter, informasjonsutveksling"})
    deles_med = fields.List(text(50), allow_none=True, validate=validate.Length(max=50),
                            metadata={"description": "keys of the service catalogue (GET /api/v1/me lists yours)"})
    informert_om_folger = fields.Boolean(allow_none=True,
                                         metadata={"description": "required to withdraw (pbrl. § 4-1)"})
    kommentar = text(2000, allow_none=True)


class _Named(Schema):
    key = fields.String(required=True)
    navn = fields.String(required=True)


class ConsentEventSchema(Schema):
    at = fields.DateTime(required=True)
    actor = fields.String(required=True)
    handling = fields.String(required=True)
    instance_id = fields.Integer(allow_none=True)
    data = fields.Dict(allow_none=True)


class ConsentSchema(Schema):
    business_key = fields.String(required=True)
    status = fields.String(allow_none=True, metadata={"description": "gitt | trukket | null (none recorded)"})
    gitt_dato = fields.String(allow_none=True)
    gitt_av = fields.String(allow_none=True)
    form = fields.String(allow_none=True)
    omfatter = fields.List(fields.Nested(_Named), required=True)
    deles_med = fields.List(fields.Nested(_Named), required=True)
    registrert_av = fields.String(allow_none=True)
    registrert_at = fields.DateTime(allow_none=True)
    trukket_dato = fields.String(allow_none=True)
    informert_om_folger = fields.Boolean(allow_none=True)
    historikk = fields.List(fields.Nested(ConsentEventSchema), required=True)
    kan_registrere = fields.Boolean(required=True, metadata={"description": "whether you may record a change"})


# --- slettesperre (legal hold, decision 0024) ----------------------------------------------------
class HoldSchema(Schema):
    business_key = fields.String(required=True)
    sperret = fields.Boolean(required=True, metadata={"description": "whether the retention job leaves the case alone"})
    grunn = fields.String(allow_none=True, metadata={"description": "why the case is kept"})
    satt_av = fields.String(allow_none=True, metadata={"description": "who placed the hold"})
    satt_at = fields.DateTime(allow_none=True, metadata={"description": "when"})


class HoldRequestSchema(RequestSchema):
    grunn = text(2000, required=True, metadata={"description": "Why the case must be kept past its retention period "
                                                               "(a complaint, a supervision case, a claim …)"})


# --- the read-access log (decision 0023) -------------------------------------------------------------


class AccessLogQuery(PageQuery):
    bruker = text(100)
    sak = text(100)
    fra = fields.AwareDateTime(metadata={"description": "From this moment (inclusive), with a UTC offset."})
    til = fields.AwareDateTime(metadata={"description": "Until this moment (exclusive), with a UTC offset."})


class AccessLogEntrySchema(Schema):
    id = fields.Integer(required=True)
    at = fields.DateTime(required=True)
    username = fields.String(required=True, metadata={"description": "The user, or the system's part that read"})
    display_name = fields.String(allow_none=True)
    system = fields.Boolean(required=True, metadata={"description": "Read by the worker or another part of the system"})
    business_key = fields.String(allow_none=True)
    instance_id = fields.Integer(allow_none=True)
    view = fields.String(required=True, metadata={"description": "sak | oppgave | samtykke | utsending | "
                                                                 "utsending_sendt | innsyn"})
    view_label = fields.String(required=True)
    channel = fields.String(required=True, metadata={"description": "side | api | kommandolinje | system"})
    channel_label = fields.String(required=True)
    address = fields.String(allow_none=True)
    agent = fields.String(allow_none=True)


AccessLogPageSchema = page_of(AccessLogEntrySchema, "AccessLogPage")
