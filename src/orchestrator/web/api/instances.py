"""/api/v1/instances: start, list and inspect process instances."""
from __future__ import annotations

from flask import url_for

from ...services import instances
from . import schemas as s
from .base import bp, current_actor, dump, operation, orchestrator


@bp.post("/instances")
@operation(summary="Start an instance of the newest version of a process", tag="Instanser", body=s.InstanceStartSchema,
           responses={201: s.StartedSchema},
           description="`business_key` (the saksnummer) is required, in the installation's format. `data` is "
                       "validated against the start event's form when it has one. 422 answers every per-field error "
                       "at once. A business key is a case reference, never a national identity number.",
           errors=(403, 404, 422))
def start(body):
    started = instances.start(orchestrator(), body["process_key"], current_actor(), body.get("business_key"),
                              body.get("data"))
    return dump(s.StartedSchema, started, 201,
                {"Location": url_for("api.get_instance", instance_id=started.id)})


@bp.get("/instances")
@operation(summary="Instances you may see, filtered by process, status and business key", tag="Instanser",
           query=s.InstanceQuery, responses={200: s.InstancePageSchema},
           description="Managers and koordinerende enhet see all; others see instances where they have an open "
                       "task they may do, or did something.", errors=(422,))
def list_instances(query):
    page = instances.list_instances(orchestrator(), current_actor(), query.get("process_key"), query.get("status"),
                                    query.get("business_key"), query["page"], query["per_page"])
    return dump(s.InstancePageSchema, page)


@bp.post("/instances/<id:instance_id>/resume")
@operation(summary="Take an instance that stopped on an error (an incident) up again", tag="Instanser",
           responses={200: s.InstanceSummarySchema},
           description="For managers and process owners, after the cause is fixed: the instance runs again, its "
                       "open tasks, timers and message waits are back in their queues, and a due timer fires at "
                       "once. 409 when the instance has not stopped on an error.", errors=(403, 404, 409))
def resume_instance(instance_id):
    return dump(s.InstanceSummarySchema, instances.resume(orchestrator(), instance_id, current_actor()))


@bp.get("/instances/<id:instance_id>")
@operation(summary="One instance: status, version, data, open tasks, waiting timers, history", tag="Instanser",
           responses={200: s.InstanceDetailSchema}, errors=(404,))
def get_instance(instance_id):
    return dump(s.InstanceDetailSchema, instances.get(orchestrator(), instance_id, current_actor()))
