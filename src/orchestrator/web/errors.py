"""Service errors and HTTP errors as JSON (API) or as a Norwegian page."""
from __future__ import annotations

import logging

from flask import Flask, g, jsonify, render_template
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from ..forms.schema import FormConditionFailed
from ..services.errors import DeployRefused, Invalid, ServiceError
from .auth import is_api_request

log = logging.getLogger(__name__)

TITLES = {
    400: "Ugyldig forespørsel",
    401: "Ikke innlogget",
    403: "Ingen tilgang",
    404: "Finnes ikke",
    405: "Metoden er ikke tillatt",
    409: "Konflikt",
    413: "For stor forespørsel",
    415: "Feil innholdstype",
    422: "Ugyldige data",
    429: "For mange forsøk",
    500: "Noe gikk galt",
}
MESSAGES = {
    400: "Forespørselen kunne ikke leses.",
    403: "Du har ikke tilgang til dette.",
    404: "Siden eller saken finnes ikke, eller du har ikke tilgang til den.",
    405: "Denne handlingen er ikke tillatt her.",
    413: "Forespørselen er for stor.",
    415: "Innholdstypen støttes ikke.",
    500: "Noe gikk galt hos oss. Feilen er logget; prøv igjen, eller kontakt brukerstøtte.",
}


def error_body(error: ServiceError) -> dict:
    body = {"message": error.message}
    if isinstance(error, Invalid):
        body["errors"] = error.fields
    if isinstance(error, DeployRefused):
        body["problems"] = [p.as_dict() for p in error.problems]
    return body


def json_error(status: int, message: str, **extra):
    response = jsonify(message=message, **extra)
    response.status_code = status
    return response


def page_error(status: int, message: str | None = None, problems=None):
    if status >= 500:
        g.failed = True  # the page's menu asks nothing more of what may have failed
    return render_template("errors/error.html", status=status, title=TITLES.get(status, "Feil"),
                           message=message or MESSAGES.get(status, ""), problems=problems or []), status


def register(app: Flask) -> None:
    @app.errorhandler(ServiceError)
    def _service_error(error: ServiceError):
        if is_api_request():
            response = jsonify(error_body(error))
            response.status_code = error.status
            return response
        problems = [str(p) for p in getattr(error, "problems", [])]
        message = error.message.split("\n")[0] if problems else error.message
        return page_error(error.status, message[:1].upper() + message[1:], problems)

    @app.errorhandler(FormConditionFailed)
    def _form_condition_failed(error: FormConditionFailed):
        # the form's author must fix a condition; the person who opened the task can do nothing
        if is_api_request():
            return json_error(422, error.message, errors=error.errors)
        return page_error(422, error.message)

    @app.errorhandler(CSRFError)
    def _csrf_error(error: CSRFError):
        message = ("Skjemaet kunne ikke sendes fordi sikkerhetsnøkkelen (CSRF) mangler eller er utløpt. "
                   "Last siden på nytt og prøv igjen.")
        if is_api_request():
            return json_error(400, "CSRF-nøkkelen mangler eller er ugyldig (send den i X-CSRFToken).")
        return page_error(400, message)

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException):
        status = error.code or 500
        message = MESSAGES.get(status) or error.description
        if is_api_request():
            response = json_error(status, message)
            if status == 405 and getattr(error, "valid_methods", None):
                response.headers["Allow"] = ", ".join(error.valid_methods)
            return response
        return page_error(status, message)

    @app.errorhandler(Exception)
    def _unexpected(error: Exception):
        if isinstance(error, HTTPException):
            return _http_error(error)
        log.exception("unhandled error")
        if is_api_request():
            return json_error(500, MESSAGES[500])
        return page_error(500)
