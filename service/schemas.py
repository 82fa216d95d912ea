"""The request and response contract of the API, as marshmallow schemas."""

from __future__ import annotations

import re

from flask import current_app
from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

INPUT_FIELDS = ("text", "paragraphs", "article")
# C0 and C1 control characters other than tab, line feed and carriage return.
CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def check_paragraph(value: str) -> None:
    """Reject text that cannot be classified: blank, too long, invalid Unicode, no words."""
    limit = current_app.config["MAX_PARAGRAPH_CHARS"]
    if not value.strip():
        raise ValidationError("Must not be empty or blank.")
    if len(value) > limit:
        raise ValidationError(f"Must be at most {limit} characters, got {len(value)}.")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValidationError("Contains invalid Unicode (a lone surrogate).") from None
    if CONTROL.search(value):
        raise ValidationError("Contains control characters (only tab and line breaks are allowed).")
    if not any(ch.isalnum() for ch in value):
        raise ValidationError("Contains no words: only punctuation, symbols, emoji or invisible characters.")


def split_article(article: str) -> list[str]:
    """Paragraphs of an article: its lines, stripped, empty ones dropped."""
    return [line.strip() for line in article.splitlines() if line.strip()]


class ClassifyRequest(Schema):
    """Exactly one of text, paragraphs or article; optionally the heads wanted."""

    class Meta:
        unknown = RAISE

    text = fields.String(
        metadata={"description": "One paragraph.", "example": "據海關數據，中俄貿易額同比增長百分之三。"}
    )
    paragraphs = fields.List(
        fields.String(),
        validate=validate.Length(min=1),
        metadata={"description": "A batch of paragraphs, classified in order."},
    )
    article = fields.String(
        metadata={
            "description": "A whole article, split into paragraphs on line breaks; empty lines dropped."
        }
    )
    heads = fields.List(
        fields.String(),
        validate=validate.Length(min=1),
        metadata={"description": "Heads to return (default: all heads of the model)."},
    )
    target = fields.String(
        validate=validate.Length(min=1, max=200),
        metadata={"description": "Stance target, for models trained with targets (see GET /model)."},
    )

    @validates_schema
    def check_input(self, data: dict, **kwargs) -> None:
        given = [name for name in INPUT_FIELDS if name in data]
        if len(given) != 1:
            message = "Give exactly one of text, paragraphs, article" + (
                f" (got {', '.join(given)})." if given else "."
            )
            raise ValidationError(message, field_name="_schema")
        errors: dict = {}
        if "text" in data:
            self._check(data["text"], "text", errors)
        elif "paragraphs" in data:
            self._check_many(data["paragraphs"], "paragraphs", errors)
        else:
            article = data["article"]
            if not article.strip():
                errors["article"] = ["Must not be empty or blank."]
            else:
                self._check_many(split_article(article), "article", errors)
        if errors:
            raise ValidationError(errors)

    @staticmethod
    def _check(value: str, name: str, errors: dict) -> None:
        try:
            check_paragraph(value)
        except ValidationError as exc:
            errors[name] = exc.messages

    def _check_many(self, values: list[str], name: str, errors: dict) -> None:
        limit = current_app.config["MAX_PARAGRAPHS"]
        if len(values) > limit:
            errors[name] = [f"At most {limit} paragraphs per request, got {len(values)}."]
            return
        problems = {}
        for index, value in enumerate(values):
            try:
                check_paragraph(value)
            except ValidationError as exc:
                problems[index] = exc.messages
        if problems:
            errors[name] = problems


class HeadResult(Schema):
    label = fields.String(required=True, metadata={"description": "The most probable label."})
    scores = fields.Dict(
        keys=fields.String(),
        values=fields.Float(),
        required=True,
        metadata={"description": "Probability of every label of the head."},
    )


class ParagraphResult(Schema):
    index = fields.Integer(
        required=True, metadata={"description": "Position of the paragraph in the request."}
    )
    characters = fields.Integer(required=True, metadata={"description": "Length of the paragraph."})
    predictions = fields.Dict(
        keys=fields.String(),
        values=fields.Nested(HeadResult),
        required=True,
        metadata={"description": "Per head (stance, topic, sentiment, ...): label and scores."},
    )


class ArticleSummary(Schema):
    paragraphs = fields.Integer(required=True)
    stance_share = fields.Dict(
        keys=fields.String(),
        values=fields.Float(),
        required=True,
        metadata={"description": "Share of paragraphs whose stance is each label."},
    )
    stance_weighted = fields.Dict(
        keys=fields.String(),
        values=fields.Float(),
        required=True,
        metadata={"description": "Stance probabilities averaged over paragraphs, weighted by length."},
    )


class ModelRef(Schema):
    name = fields.String(required=True)
    version = fields.String(required=True)


class ClassifyResponse(Schema):
    model = fields.Nested(ModelRef, required=True)
    results = fields.List(fields.Nested(ParagraphResult), required=True)
    summary = fields.Nested(
        ArticleSummary, metadata={"description": "Only for an article with a stance head."}
    )


class Status(Schema):
    status = fields.String(required=True)


class ErrorResponse(Schema):
    """The one envelope of every error."""

    code = fields.Integer(required=True, metadata={"description": "HTTP status code."})
    status = fields.String(required=True, metadata={"description": "HTTP status name."})
    message = fields.String(required=True, metadata={"description": "What went wrong."})
    errors = fields.Dict(metadata={"description": "Per-field validation messages, under 'json'."})
