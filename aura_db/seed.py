"""Seed data: the development data set, and large synthetic data sets.

``seed_dev`` writes the development data set: the rows of the Aura app's own
development seed (``Aura.Api/Data/SeedData.cs``: a user setup whose wizard was
completed a week ago, three sample draft projects), plus three projects at
different stages, three system templates and two completed exports (and a few
development configuration rows, one of them sensitive, so masking can be seen
at work).
Every row has a fixed key and is only inserted when that key is absent, so a
second run changes nothing.  Rows go through the models, which fill the audit
fields.

``seed_synthetic`` writes a large, deterministic data set for load and
performance work.  It follows the model layer's rules (audit fields filled,
version contents stored content-addressed in ContentBlobs with exact
ReferenceCounts) but builds rows as tuples and inserts them in bulk: through
the model layer one row at a time it would be two orders of magnitude slower.
Every table gets rows, scaled from the number of projects (users, media,
render jobs with their progress, usage, cost and performance rows, audit
logs, a year of daily and monthly analytics summaries); the rows the app's
migrations insert (system roles, default settings) are referenced, never
written, and analytics periods already summarised are left alone.

Both run in one transaction: on any error the database is as before.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import random
import re
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator

from aura_db.errors import AuraError, UsageError
from aura_db.errors import NotMigrated as NotMigrated  # its old home: seed.NotMigrated still works
from aura_db.guards import require_writable

if TYPE_CHECKING:
    import peewee as pw

    from aura_db.db import Engine
    from aura_db.engines.writer import BulkWriter

Progress = Callable[[int, int], None]  # (projects done, projects in all)

# The Aura tables that hold data.  Tables whose rows the app's migrations insert
# (system_configuration, the default analytics-retention and queue settings,
# the system roles) are left out: the application requires those rows.
def _data_models() -> list[Any]:
    from aura_db.models import (
        MODELS,
        AnalyticsRetentionSettings,
        QueueConfiguration,
        Role,
        SystemConfiguration,
    )

    reference = (SystemConfiguration, AnalyticsRetentionSettings, QueueConfiguration, Role)
    return [m for m in MODELS if m not in reference]


@dataclass
class SeedResult:
    kind: str  # dev | synthetic
    created: dict[str, int] = field(default_factory=dict)
    existing: dict[str, int] = field(default_factory=dict)  # dev rows already present, left alone
    deleted: dict[str, int] = field(default_factory=dict)  # by --reset
    random_seed: int | None = None
    duration_ms: int = 0

    @property
    def rows_created(self) -> int:
        return sum(self.created.values())

    @property
    def changed(self) -> bool:
        return bool(self.rows_created or sum(self.deleted.values()))

    @property
    def rows_per_second(self) -> float:
        return self.rows_created / (self.duration_ms / 1000) if self.duration_ms else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "changed": self.changed,
            "rows_created": self.rows_created,
            "created": self.created,
            "existing": self.existing,
            "deleted": self.deleted,
            "random_seed": self.random_seed,
            "duration_ms": self.duration_ms,
            "rows_per_second": round(self.rows_per_second, 1),
        }


# --------------------------------------------------------------------------
# Preconditions


def require_migrated(engine: "Engine", db: "pw.Database", migrations_dir: Path) -> None:
    """Raise NotMigrated unless every migration is applied and every table exists."""
    from aura_db.migrations import discover, read_history, refuse_if_not_adopted
    from aura_db.models import TABLES

    hint = "run `aura-db migrate` first"
    history = read_history(db)
    refuse_if_not_adopted(engine, db, history)  # tables aura-db neither made nor adopted: exit 3
    if not history:
        raise NotMigrated(f"{engine.describe()} is not migrated: no migration has been applied", hint=hint)
    applied = {h.name for h in history}
    pending = [f.name for f in discover(migrations_dir) if f.name not in applied]
    if pending:
        raise NotMigrated(
            f"{engine.describe()} is not fully migrated: {len(pending)} pending ({', '.join(pending[:5])})",
            hint=hint)
    from aura_db.catalog import name_folder

    fold = name_folder(engine, db)
    present = {fold(t) for t in db.get_tables()}
    missing = [t for t in TABLES if fold(t) not in present]
    if missing:
        raise NotMigrated(f"{engine.describe()} lacks table(s) {', '.join(missing)}", hint=hint)


def _reset(db: "pw.Database") -> dict[str, int]:
    deleted = {}
    for model in reversed(_data_models()):  # children before parents
        deleted[model._meta.table_name] = model.delete().execute()
    return deleted


# --------------------------------------------------------------------------
# The development data set


def _dev_guid(name: str) -> str:
    # Fixed keys are what make a second run a no-op.
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"https://aura.video/dev-seed/{name}")).upper()


def _j(doc: Any) -> str:
    return json.dumps(doc, separators=(",", ":"), sort_keys=True)


def dev_rows(now: dt.datetime) -> list[tuple[Any, dict[str, Any]]]:
    """(model, fields) for every row of the development data set."""
    from aura_db.models import Configuration, ExportHistory, ProjectState, Template, UserSetup

    day = dt.timedelta(days=1)
    rows: list[tuple[Any, dict[str, Any]]] = [
        # The app's seed: the first-run wizard was completed a week ago.
        (UserSetup, dict(
            id="default", user_id="default", completed=True, completed_at=now - 7 * day, version="1.0.0",
            last_step=6, selected_tier=None,
            wizard_state=_j({"currentStep": 6, "hardwareDetected": True, "providersConfigured": []}),
        )),
    ]
    # The app's three sample projects (SeedData.cs): drafts, with a theme
    # (Category), a target duration and tags.
    app_samples = [
        ("sample", "Welcome to Aura - Sample Project",
         "This is a sample project to help you get started with Aura Video Studio. "
         "It demonstrates a simple video workflow with script, voiceover, and visuals.",
         "Technology", 60, ["sample", "tutorial", "getting-started"], 5 * day),
        ("quick-start", "Quick Start Tutorial",
         "Learn how to create your first video in Aura using the Guided Mode. "
         "This tutorial covers the basics of script generation, voice selection, and rendering.",
         "Education", 90, ["tutorial", "beginner", "guided-mode"], 3 * day),
        ("advanced", "Advanced Features Demo",
         "Explore advanced features like ML Lab, custom prompt templates, "
         "and expert render controls. Perfect for power users.",
         "Technology", 120, ["advanced", "ml-lab", "power-user"], 1 * day),
    ]
    for key, title, description, category, seconds, tags, age in app_samples:
        rows.append((ProjectState, dict(
            id=_dev_guid(f"project/{key}"), title=title, description=description, status="Draft",
            category=category, duration_seconds=float(seconds), tags=",".join(tags),
            created_at=now - age,
        )))
    projects = [
        dict(key="draft", title="Welcome to Aura: Getting Started",
             description="A short explainer introducing the Aura Video Studio workflow.",
             status="Draft", step=1, stage="Brief", progress=10, job=None,
             brief={"topic": "Getting started with Aura Video Studio", "audience": "New users",
                    "goal": "Explain the wizard in under two minutes", "tone": "Friendly",
                    "language": "en-US", "aspect": "Widescreen16x9"},
             plan=None, voice=None),
        dict(key="in-progress", title="Product Launch Teaser",
             description="30-second teaser for the spring product launch.",
             status="InProgress", step=4, stage="Voice", progress=55, job="job-dev-0002",
             brief={"topic": "Spring product launch", "audience": "Existing customers",
                    "goal": "Build anticipation", "tone": "Energetic", "language": "en-US",
                    "aspect": "Vertical9x16"},
             plan={"targetDurationSeconds": 30, "pacing": "Fast", "density": "Balanced",
                   "style": "Cinematic", "sceneCount": 5},
             voice={"voiceName": "en-US-JennyNeural", "rate": 1.05, "pitch": 0, "pause": "Short"}),
        dict(key="completed", title="Quarterly Team Update",
             description="Internal update video summarising the quarter's results.",
             status="Completed", step=6, stage="Completed", progress=100, job="job-dev-0003",
             brief={"topic": "Q3 results and roadmap", "audience": "All staff",
                    "goal": "Inform and motivate", "tone": "Professional", "language": "en-US",
                    "aspect": "Widescreen16x9"},
             plan={"targetDurationSeconds": 180, "pacing": "Conversational", "density": "Detailed",
                   "style": "Corporate", "sceneCount": 9},
             voice={"voiceName": "en-US-GuyNeural", "rate": 1.0, "pitch": 0, "pause": "Natural"}),
    ]
    for i, p in enumerate(projects):
        rows.append((ProjectState, dict(
            id=_dev_guid(f"project/{p['key']}"), title=p["title"], description=p["description"],
            status=p["status"], current_wizard_step=p["step"], current_stage=p["stage"],
            progress_percent=p["progress"], job_id=p["job"], brief_json=_j(p["brief"]),
            plan_spec_json=_j(p["plan"]) if p["plan"] else None,
            voice_spec_json=_j(p["voice"]) if p["voice"] else None,
            render_spec_json=_j({"resolution": "1920x1080", "fps": 30, "codec": "H264",
                                 "bitrateKbps": 8000}) if p["status"] == "Completed" else None,
            created_at=now - (3 - i) * 7 * day,
        )))
    templates = [
        ("system-social-media", "Social Media Short", "Social Media", "Short Form",
         "Punchy vertical video for TikTok, Reels and Shorts.", "social,short,vertical", 1250, 4.6, 312,
         {"aspect": "Vertical9x16", "durationSeconds": 30, "sceneCount": 5, "pacing": "Fast",
          "captions": True}),
        ("system-educational", "Educational Explainer", "Educational", "Explainer",
         "Structured lesson with an introduction, key points and a recap.", "education,explainer,lesson",
         890, 4.8, 207,
         {"aspect": "Widescreen16x9", "durationSeconds": 240, "sceneCount": 8, "pacing": "Conversational",
          "captions": True}),
        ("system-product-showcase", "Product Showcase", "Marketing", "Product",
         "Feature-by-feature product walkthrough ending in a call to action.", "product,marketing,demo",
         640, 4.5, 158,
         {"aspect": "Widescreen16x9", "durationSeconds": 90, "sceneCount": 6, "pacing": "Balanced",
          "captions": False}),
    ]
    for tid, name, cat, sub, desc, tags, uses, rating, count, data in templates:
        rows.append((Template, dict(
            id=tid, name=name, description=desc, category=cat, sub_category=sub,
            preview_image=f"/templates/previews/{tid}.png", preview_video=f"/templates/previews/{tid}.mp4",
            tags=tags, template_data=_j(data), author="Aura", is_system_template=True,
            is_community_template=False, usage_count=uses, rating=rating, rating_count=count,
        )))
    exports = [
        ("dev-export-youtube", "YouTube 1080p", "YouTube", "1920x1080", "H.264", 3, 94.2, 248_512_000, 182.5),
        ("dev-export-instagram", "Instagram Reel", "Instagram", "1080x1920", "H.264", 1, 31.8, 42_117_000, 30.0),
    ]
    for eid, preset, platform, res, codec, days_ago, render_s, size, duration in exports:
        started = now - days_ago * day
        rows.append((ExportHistory, dict(
            id=eid, input_file=f"/projects/{_dev_guid('project/completed')}/timeline.json",
            output_file=f"/exports/quarterly-team-update-{platform.lower()}.mp4", preset_name=preset,
            status="Completed", progress=100.0, created_at=started - dt.timedelta(seconds=12),
            started_at=started, completed_at=started + dt.timedelta(seconds=render_s),
            error_message=None, file_size=size, duration_seconds=duration, platform=platform,
            resolution=res, codec=codec,
        )))
    configs = [
        ("General.Theme", "Dark", "General", "String", "Colour theme of the studio", False),
        ("Render.DefaultPreset", "YouTube 1080p", "Render", "String", "Export preset chosen by default", False),
        ("Render.HardwareAcceleration", "true", "Render", "Boolean", "Use the GPU encoder when present", False),
        ("Providers.OpenAI.ApiKey", "sk-dev-placeholder-not-a-real-key", "Providers", "String",
         "API key for the script provider (development placeholder)", True),
    ]
    for key, value, cat, vtype, desc, sensitive in configs:
        rows.append((Configuration, dict(
            key=key, value=value, category=cat, value_type=vtype, description=desc,
            is_sensitive=sensitive, version=1, is_active=True,
        )))
    return rows


def _exists(model: Any, values: dict[str, Any]) -> bool:
    from aura_db.models import SoftDeleteModel, UserSetup

    select = model.select_with_deleted if issubclass(model, SoftDeleteModel) else model.select
    if model is UserSetup:  # UserId is unique too: one setup per user, whatever its key
        cond = (UserSetup.id == values["id"]) | (UserSetup.user_id == values["user_id"])
    else:
        cond = model._meta.primary_key == values[model._meta.primary_key.name]
    return select().where(cond).exists()


def seed_dev(engine: "Engine", migrations_dir: Path, *, reset: bool = False) -> SeedResult:
    """Insert the development data set; rows already there are left as they are."""
    from aura_db.fields import utcnow
    from aura_db.models import bind

    started = time.perf_counter()
    result = SeedResult("dev")
    require_writable(engine, "seed")
    db = engine.open(create=False)
    try:
        require_migrated(engine, db, migrations_dir)
        bind(db)
        with db.atomic():
            if reset:
                result.deleted = _reset(db)
            for model, values in dev_rows(utcnow()):
                table = model._meta.table_name
                if _exists(model, values):
                    result.existing[table] = result.existing.get(table, 0) + 1
                    continue
                model(**values).save(force_insert=True)  # save() fills the audit fields
                result.created[table] = result.created.get(table, 0) + 1
    finally:
        db.close()
    result.duration_ms = int((time.perf_counter() - started) * 1000)
    return result


# --------------------------------------------------------------------------
# Synthetic data


@dataclass(frozen=True)
class IntRange:
    low: int
    high: int

    @classmethod
    def parse(cls, text: str | int, option: str, *, minimum: int = 0) -> "IntRange":
        m = re.fullmatch(r"\s*(\d+)\s*(?:(?:-|\.\.)\s*(\d+)\s*)?", str(text))
        if not m:
            raise UsageError(f"{option} must be N or MIN-MAX (e.g. 4-12), got {text!r}")
        low = int(m.group(1))
        high = int(m.group(2)) if m.group(2) is not None else low
        if low > high:
            raise UsageError(f"{option}: {low} is above {high}", hint=f"write {option} {high}-{low}")
        if low < minimum:
            raise UsageError(f"{option} must be at least {minimum}, got {low}")
        return cls(low, high)


@dataclass(frozen=True)
class SyntheticSpec:
    projects: int = 100
    scenes: IntRange = IntRange(4, 12)
    versions: IntRange = IntRange(1, 5)
    random_seed: int = 42
    flush_every: int = 250  # projects per bulk write

    def __post_init__(self) -> None:
        if self.projects < 1:
            raise UsageError(f"--projects must be at least 1, got {self.projects}")
        if self.versions.low < 1:
            raise UsageError("--versions-per-project must be at least 1")


STATUSES = [("Draft", 25), ("InProgress", 30), ("Completed", 35), ("Failed", 6), ("Cancelled", 4)]
STAGES = ["Brief", "Plan", "Script", "Voice", "Visuals", "Render", "Export"]
TOPICS = ["morning routines", "home espresso", "budget travel in Portugal", "beginner watercolour",
          "remote team rituals", "the history of jazz", "urban gardening", "cybersecurity basics",
          "electric bikes", "sourdough at home", "marathon training", "product onboarding",
          "quarterly results", "climate-friendly commuting", "learning Rust", "wildlife photography",
          "small business bookkeeping", "mindful breathing", "retro game design", "coastal hiking"]
FORMATS = ["explainer", "tutorial", "teaser", "recap", "how-to", "story", "review", "update"]
AUDIENCES = ["beginners", "customers", "students", "the whole team", "investors", "hobbyists"]
TONES = ["Friendly", "Professional", "Energetic", "Calm", "Playful", "Inspirational"]
SENTENCES = [
    "Open on a wide establishing shot while the narrator sets the scene.",
    "Cut to a close-up that shows the key detail the audience should remember.",
    "Overlay a short caption that repeats the main point in plain words.",
    "Bring in upbeat music as the pace quickens for the middle section.",
    "Show a quick before-and-after comparison to make the benefit obvious.",
    "Pause on the diagram for a beat so viewers can take it in.",
    "Wrap up with a single clear call to action and the channel logo.",
    "Use a slow zoom to keep the still image feeling alive.",
    "Introduce the expert with a lower-third title and a friendly wave.",
    "Transition with a soft cross-fade into the next idea.",
]
VOICES = [{"voiceName": v, "rate": r, "pitch": p, "pause": s}
          for v in ("en-US-JennyNeural", "en-US-GuyNeural", "en-GB-SoniaNeural", "en-AU-NatashaNeural")
          for r, p, s in ((1.0, 0, "Natural"), (1.1, 1, "Short"), (0.95, -1, "Long"))]
RENDERS = [{"resolution": res, "fps": fps, "codec": codec, "bitrateKbps": kbps}
           for res, kbps in (("1920x1080", 8000), ("1080x1920", 6000), ("3840x2160", 35000), ("1280x720", 5000))
           for fps, codec in ((30, "H264"), (60, "HEVC"))]
PLATFORMS = [("YouTube", "YouTube 1080p", "1920x1080"), ("Instagram", "Instagram Reel", "1080x1920"),
             ("TikTok", "TikTok Vertical", "1080x1920"), ("LinkedIn", "LinkedIn Feed", "1920x1080"),
             ("Vimeo", "Vimeo 4K", "3840x2160")]
ACTIONS = [("UpdateScene", "RevertScene"), ("ReorderScenes", "ReorderScenes"), ("ChangeVoice", "ChangeVoice"),
           ("ApplyTemplate", "RemoveTemplate"), ("AddAsset", "RemoveAsset"), ("EditBrief", "EditBrief")]
SCRIPT_LINES = [f"{a} {b}" for a in SENTENCES for b in SENTENCES if a != b]
PACINGS = ["Fast", "Balanced", "Conversational"]
VERSION_TYPES = ["Manual", "Autosave", "RestorePoint"]
CODECS = ["H.264", "HEVC", "AV1"]
MEDIA_KINDS = [("Image", "png"), ("Video", "mp4"), ("Audio", "wav"), ("Image", "jpg")]
MEDIA_TAGS = ["b-roll", "logo", "music", "intro", "outro", "background", "product", "people", "nature", "city"]
# (provider, model, input price per 1M tokens, output price per 1M tokens)
PROVIDERS = [("OpenAI", "gpt-4o-mini", 0.15, 0.6), ("Anthropic", "claude-3-5-haiku", 0.8, 4.0),
             ("Ollama", "llama3.1:8b", 0.0, 0.0)]
GENERATIONS = [("Script", "ScriptGeneration"), ("Voice", "TextToSpeech"), ("Image", "ImageGeneration"),
               ("Render", "VideoRender")]
TEMPLATE_CATEGORIES = [("Social Media", "Short Form"), ("Educational", "Explainer"), ("Marketing", "Product"),
                       ("Corporate", "Internal"), ("Entertainment", "Story")]


class _Clock:
    """Timestamps as text, fast: the same text SQLite, PostgreSQL and MySQL accept."""

    def __init__(self, end: dt.datetime):
        self.end = end.replace(microsecond=0)

    def ago(self, seconds: float) -> str:
        return (self.end - dt.timedelta(seconds=int(seconds))).isoformat(" ")

    def after(self, text: str, seconds: float) -> str:
        return (dt.datetime.fromisoformat(text) + dt.timedelta(seconds=int(seconds))).isoformat(" ")

    def at(self, seconds_before_end: int) -> str:
        """The hot path keeps times as whole seconds before the end and formats them once."""
        return (self.end - dt.timedelta(seconds=seconds_before_end)).isoformat(" ")


# The columns of each table the synthesizer fills, in the order of its tuples.
SYNTHETIC_COLUMNS: dict[str, list[str]] = {
    "user_setup": ["id", "user_id", "completed", "completed_at", "version", "last_step", "updated_at",
                   "selected_tier", "wizard_state"],
    "templates": ["id", "name", "description", "category", "sub_category", "preview_image", "preview_video",
                  "tags", "template_data", "author", "is_system_template", "is_community_template",
                  "usage_count", "rating", "rating_count", "created_at", "updated_at"],
    "custom_templates": ["id", "is_deleted", "deleted_at", "deleted_by", "name", "description", "category",
                         "tags", "author", "is_default", "script_structure_json", "video_structure_json",
                         "llm_pipeline_json", "visual_preferences_json", "created_at", "updated_at",
                         "created_by", "modified_by"],
    "Configurations": ["Key", "Value", "Category", "ValueType", "Description", "IsSensitive", "Version",
                       "IsActive", "CreatedAt", "UpdatedAt", "CreatedBy", "ModifiedBy"],
    "ProjectStates": ["Id", "IsDeleted", "DeletedAt", "DeletedBy", "Title", "Description", "Status",
                      "CurrentWizardStep", "CurrentStage", "ProgressPercent", "JobId", "BriefJson",
                      "PlanSpecJson", "VoiceSpecJson", "RenderSpecJson", "CreatedAt", "UpdatedAt", "CreatedBy",
                      "ModifiedBy"],
    "SceneStates": ["Id", "ProjectId", "SceneIndex", "ScriptText", "AudioFilePath", "ImageFilePath",
                    "DurationSeconds", "IsCompleted", "CreatedAt"],
    "AssetStates": ["Id", "ProjectId", "AssetType", "FilePath", "FileSizeBytes", "MimeType", "IsTemporary",
                    "CreatedAt"],
    "RenderCheckpoints": ["Id", "ProjectId", "StageName", "CheckpointTime", "CompletedScenes", "TotalScenes",
                          "CheckpointData", "OutputFilePath", "IsValid"],
    "ProjectVersions": ["Id", "IsDeleted", "DeletedAt", "DeletedBy", "ProjectId", "VersionNumber", "Name",
                        "Description", "VersionType", "BriefHash", "PlanHash", "VoiceHash", "RenderHash",
                        "TimelineHash", "StorageSizeBytes", "IsMarkedImportant", "CreatedAt", "UpdatedAt",
                        "CreatedBy", "ModifiedBy"],
    "ContentBlobs": ["ContentHash", "Content", "ContentType", "SizeBytes", "CreatedAt", "LastReferencedAt",
                     "ReferenceCount", "UpdatedAt", "CreatedBy", "ModifiedBy"],
    "export_history": ["id", "input_file", "output_file", "preset_name", "status", "progress", "created_at",
                       "started_at", "completed_at", "error_message", "file_size", "duration_seconds",
                       "platform", "resolution", "codec"],
    "ActionLogs": ["Id", "UserId", "ActionType", "Description", "Timestamp", "Status", "PayloadJson",
                   "InverseActionType", "InversePayloadJson", "CanBatch", "IsPersistent", "UndoneAt",
                   "UndoneByUserId", "ExpiresAt", "CorrelationId"],
    # The tables of the app's newest migration.
    "users": ["id", "username", "email", "display_name", "password_hash", "is_active", "is_suspended",
              "suspended_at", "suspended_reason", "last_login_at", "last_login_ip", "failed_login_attempts",
              "lockout_end", "email_verified", "phone_number", "phone_verified", "two_factor_enabled",
              "two_factor_secret", "created_at", "updated_at", "created_by", "modified_by", "metadata"],
    "user_roles": ["user_id", "role_id", "assigned_at", "assigned_by"],
    "user_quotas": ["id", "user_id", "api_requests_per_day", "api_requests_used_today", "api_requests_reset_at",
                    "videos_per_month", "videos_generated_this_month", "videos_reset_at", "storage_limit_bytes",
                    "storage_used_bytes", "ai_tokens_per_month", "ai_tokens_used_this_month", "ai_tokens_reset_at",
                    "max_concurrent_renders", "max_concurrent_jobs", "total_cost_usd", "cost_limit_usd",
                    "created_at", "updated_at", "created_by", "modified_by"],
    "Settings": ["Id", "SettingsJson", "IsEncrypted", "Version", "CreatedAt", "UpdatedAt", "CreatedBy",
                 "ModifiedBy"],
    "HardwareSettings": ["Id", "SettingsJson", "Version", "CreatedAt", "UpdatedAt", "CreatedBy", "ModifiedBy"],
    "ProviderConfigurations": ["Id", "ConfigJson", "IsEncrypted", "Version", "CreatedAt", "UpdatedAt",
                               "CreatedBy", "ModifiedBy"],
    "MediaCollections": ["Id", "Name", "Description", "ThumbnailUrl", "CreatedAt", "UpdatedAt", "CreatedBy",
                         "ModifiedBy", "IsDeleted", "DeletedAt", "DeletedBy"],
    "UploadSessions": ["Id", "FileName", "TotalSize", "UploadedSize", "TotalChunks", "CompletedChunksJson",
                       "BlobUrl", "CreatedAt", "ExpiresAt"],
    "AnalyticsSummaries": ["PeriodType", "PeriodId", "PeriodStart", "PeriodEnd", "TotalGenerations",
                           "SuccessfulGenerations", "FailedGenerations", "TotalTokens", "TotalInputTokens",
                           "TotalOutputTokens", "TotalCostUSD", "AverageDurationMs", "TotalRenderingTimeMs",
                           "MostUsedProvider", "MostUsedModel", "MostUsedFeature", "TotalVideoDurationSeconds",
                           "TotalScenes", "AverageCpuUsage", "AverageMemoryUsageMB", "ProviderBreakdown",
                           "FeatureBreakdown", "CreatedAt", "UpdatedAt", "CreatedBy", "ModifiedBy"],
    "JobQueue": ["JobId", "Priority", "Status", "JobDataJson", "CorrelationId", "RetryCount", "MaxRetries",
                 "LastError", "EnqueuedAt", "StartedAt", "CompletedAt", "NextRetryAt", "ProgressPercent",
                 "CurrentStage", "OutputPath", "WorkerId", "IsQuickDemo", "CreatedAt", "UpdatedAt", "CreatedBy",
                 "ModifiedBy"],
    "JobProgressHistory": ["JobId", "Stage", "ProgressPercent", "Message", "SubstageDetail", "CurrentItem",
                           "TotalItems", "Timestamp", "ElapsedMilliseconds", "EstimatedRemainingMilliseconds"],
    "UsageStatistics": ["Id", "ProjectId", "JobId", "GenerationType", "Provider", "Model", "InputTokens",
                        "OutputTokens", "DurationMs", "Success", "ErrorMessage", "FeatureUsed",
                        "OutputDurationSeconds", "SceneCount", "IsRetry", "RetryAttempt", "Timestamp",
                        "CreatedAt", "UpdatedAt", "CreatedBy", "ModifiedBy"],
    "CostTracking": ["UsageStatisticsId", "ProjectId", "JobId", "Provider", "Model", "InputTokens", "OutputTokens",
                     "InputPricePer1M", "OutputPricePer1M", "InputCost", "OutputCost", "TotalCost", "Currency",
                     "YearMonth", "Timestamp", "IsEstimated", "CreatedAt", "UpdatedAt", "CreatedBy",
                     "ModifiedBy"],
    "PerformanceMetrics": ["ProjectId", "JobId", "OperationType", "Stage", "DurationMs", "CpuUsagePercent",
                           "MemoryUsedMB", "PeakMemoryMB", "GpuUsagePercent", "Success", "ErrorMessage",
                           "WorkerCount", "QueueWaitMs", "Throughput", "ThroughputUnit", "Timestamp",
                           "SystemInfo", "CreatedAt", "UpdatedAt", "CreatedBy", "ModifiedBy"],
    "MediaItems": ["Id", "FileName", "Type", "Source", "FileSize", "Description", "BlobUrl", "ThumbnailUrl",
                   "PreviewUrl", "ContentHash", "MetadataJson", "ProcessingStatus", "ProcessingError",
                   "CollectionId", "UsageCount", "LastUsedAt", "CreatedAt", "UpdatedAt", "CreatedBy",
                   "ModifiedBy", "IsDeleted", "DeletedAt", "DeletedBy"],
    "MediaTags": ["Id", "MediaId", "Tag", "CreatedAt"],
    "MediaUsages": ["Id", "MediaId", "ProjectId", "ProjectName", "UsedAt"],
    "audit_logs": ["id", "timestamp", "user_id", "username", "action", "resource_type", "resource_id",
                   "ip_address", "user_agent", "success", "error_message", "changes", "metadata", "severity"],
}


class _Synthesizer:
    def __init__(self, spec: SyntheticSpec, actor: str, now: dt.datetime):
        self.spec = spec
        self.rng = random.Random(spec.random_seed)
        self.actor = actor
        self.clock = _Clock(now)
        self.columns = dict(SYNTHETIC_COLUMNS)
        self.rows: dict[str, list[tuple]] = {t: [] for t in self.columns}
        self.created: dict[str, int] = {t: 0 for t in self.columns}
        self.pool_refs: dict[str, list] = {}  # shared blobs (voice/render presets): hash -> [row, refs]
        seed = spec.random_seed
        self.users = [f"synthetic-{seed}-user-{i:05d}" for i in range(max(1, spec.projects // 20))]
        self.status_names = [s for s, _ in STATUSES]
        self.status_weights = [w for _, w in STATUSES]
        self.xr = random.Random(f"aura-db-synthetic-extra-{seed}")
        self.collections: list[str] = []
        self.roles: list[str] = []  # ids of the roles in the database
        self.periods: set[tuple[str, str]] = set()  # analytics periods already summarised
        # UsageStatistics ids are given, so that CostTracking rows can point at them.
        self.usage_next = 1
        self.voice_pool = [self._pool_blob(_j(v)) for v in VOICES]
        self.render_pool = [self._pool_blob(_j(r)) for r in RENDERS]

    # -- small fast helpers --------------------------------------------------
    def guid(self) -> str:
        # Random (not sequential) keys, as the application's GUIDs are: index
        # pages fill the way they do in real use.  Version 4, variant 10xx.
        h = self.rng.getrandbits(128).to_bytes(16, "big").hex()
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}".upper()

    def xguid(self) -> str:
        h = self.xr.getrandbits(128).to_bytes(16, "big").hex()
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}".upper()

    def _pool_blob(self, content: str) -> tuple[str, str]:
        return hashlib.sha256(content.encode()).hexdigest(), content

    def blob_row(self, key: str, content: str, ctype: str, created: str, refs: int) -> tuple:
        # ContentHash, Content, ContentType, SizeBytes, CreatedAt, LastReferencedAt,
        # ReferenceCount, UpdatedAt, CreatedBy, ModifiedBy
        return (key, content, ctype, len(content.encode()), created, created, refs, created,
                self.actor, self.actor)

    # -- the data set -----------------------------------------------------------
    def reference_tables(self) -> None:
        rng, seed, clock, actor = self.rng, self.spec.random_seed, self.clock, self.actor
        n = self.spec.projects
        for user in self.users:
            done = rng.random() < 0.7
            at = clock.ago(rng.uniform(3600, 400 * 86400))
            # Id, UserId, Completed, CompletedAt, Version, LastStep, UpdatedAt, SelectedTier, WizardState
            self.rows["user_setup"].append((
                self.guid(), user, done, at if done else None, "1.0.0", 6 if done else rng.randint(0, 5), at,
                rng.choice(["Free", "Pro", "Studio"]) if done else None,
                _j({"currentStep": 6 if done else rng.randint(0, 5), "hardwareDetected": done})))
        for i in range(max(3, n // 100)):
            cat, sub = TEMPLATE_CATEGORIES[i % len(TEMPLATE_CATEGORIES)]
            tid = self.guid()
            at = clock.ago(rng.uniform(30 * 86400, 700 * 86400))
            system = i < len(TEMPLATE_CATEGORIES)
            self.rows["templates"].append((
                tid, f"{cat} {FORMATS[i % len(FORMATS)].title()} #{i + 1}", f"Synthetic {cat.lower()} template",
                cat, sub, f"/templates/previews/{tid}.png", f"/templates/previews/{tid}.mp4",
                f"{cat.lower().replace(' ', '-')},{sub.lower().replace(' ', '-')}",
                _j({"sceneCount": rng.randint(3, 12), "durationSeconds": rng.choice([15, 30, 60, 90, 180])}),
                "Aura" if system else f"creator-{rng.randint(1, 500)}", system, not system,
                rng.randint(0, 5000), round(rng.uniform(3.0, 5.0), 1), rng.randint(0, 900), at,
                clock.after(at, rng.uniform(0, 20 * 86400))))
        for i in range(max(1, n // 50)):
            at = clock.ago(rng.uniform(86400, 300 * 86400))
            deleted = rng.random() < 0.1
            cat, _sub = rng.choice(TEMPLATE_CATEGORIES)
            # Id, IsDeleted, DeletedAt, DeletedBy, Name, Description, Category, Tags, Author, IsDefault,
            # ScriptStructureJson, VideoStructureJson, LLMPipelineJson, VisualPreferencesJson,
            # CreatedAt, UpdatedAt, CreatedBy, ModifiedBy
            self.rows["custom_templates"].append((
                self.guid(), deleted, clock.after(at, 86400) if deleted else None, actor if deleted else None,
                f"My {cat.lower()} template {i + 1}", "Saved from a project", cat, "custom", rng.choice(self.users),
                i == 0, _j({"sections": ["hook", "body", "cta"]}), _j({"scenes": rng.randint(3, 10)}),
                _j({"model": "gpt-4o-mini", "temperature": 0.7}), _j({"palette": "warm", "font": "Inter"}),
                at, at, actor, actor))
        categories = ["General", "Render", "Providers", "Storage", "Telemetry"]
        for i in range(10 + n // 200):
            cat = categories[i % len(categories)]
            sensitive = cat == "Providers"
            at = clock.ago(rng.uniform(86400, 200 * 86400))
            # Key, Value, Category, ValueType, Description, IsSensitive, Version, IsActive,
            # CreatedAt, UpdatedAt, CreatedBy, ModifiedBy
            self.rows["Configurations"].append((
                f"Synthetic.{seed}.{cat}.Setting{i:04d}",
                f"secret-{self.guid()}" if sensitive else str(rng.randint(0, 1000)), cat,
                "String" if sensitive else "Integer", f"Synthetic {cat.lower()} setting", sensitive,
                rng.randint(1, 4), rng.random() < 0.9, at, at, actor, actor))

    def project(self) -> None:
        # The hot loop of a synthetic run: plain indexing on rng.random() and
        # %-formatted JSON, because choice()/randint()/json.dumps() per value
        # would cost more than inserting the rows.
        rnd, spec, actor, clock = self.rng.random, self.spec, self.actor, self.clock
        at, guid = clock.at, self.guid
        sha = hashlib.sha256
        rows = self.rows
        pid = guid()
        topic = TOPICS[int(rnd() * len(TOPICS))]
        fmt = FORMATS[int(rnd() * len(FORMATS))]
        audience = AUDIENCES[int(rnd() * len(AUDIENCES))]
        status = self.rng.choices(self.status_names, self.status_weights)[0]
        # Whole seconds before the end of the data set's time span.
        created_s = int(3600 + rnd() * 365 * 86400)
        updated_s = created_s - int(60 + rnd() * 30 * 86400)
        created, updated = at(created_s), at(updated_s)
        completed = status == "Completed"
        stage_i = len(STAGES) - 1 if completed else int(rnd() * len(STAGES))
        progress = 100 if completed else min(100, int(100 * stage_i / len(STAGES)) + int(rnd() * 10))
        scenes = spec.scenes.low + int(rnd() * (spec.scenes.high - spec.scenes.low + 1))
        brief = ('{"audience":"%s","format":"%s","project":"%s","tone":"%s","topic":"%s"}'
                 % (audience, fmt, pid, TONES[int(rnd() * len(TONES))], topic))
        voice_key, voice = self.voice_pool[int(rnd() * len(self.voice_pool))]
        render_key, render = self.render_pool[int(rnd() * len(self.render_pool))]
        deleted = rnd() < 0.05
        # Versions first: the project row carries the latest plan.
        nver = spec.versions.low + int(rnd() * (spec.versions.high - spec.versions.low + 1))
        brief_key = sha(brief.encode()).hexdigest()
        own: dict[str, list] = {brief_key: [brief, nver]}
        pool = self.pool_refs
        pool[voice_key][1] += nver
        pool[render_key][1] += nver
        plan = timeline = ""
        plan_key = timeline_key = ""
        vtime_s = created_s
        versions = rows["ProjectVersions"]
        for v in range(1, nver + 1):
            if not plan or rnd() < 0.5:
                plan = ('{"pacing":"%s","project":"%s","revision":%d,"sceneCount":%d,"targetDurationSeconds":%d}'
                        % (PACINGS[int(rnd() * 3)], pid, v, scenes, scenes * (5 + int(rnd() * 8))))
                plan_key = sha(plan.encode()).hexdigest()
                own[plan_key] = [plan, 0]
            if not timeline or rnd() < 0.7:
                clips = ",".join("[%d,%.1f]" % (i, 2 + rnd() * 10) for i in range(scenes))
                timeline = '{"clips":[%s],"project":"%s","revision":%d}' % (clips, pid, v)
                timeline_key = sha(timeline.encode()).hexdigest()
                own[timeline_key] = [timeline, 0]
            own[plan_key][1] += 1
            own[timeline_key][1] += 1
            vtime_s -= int(60 + rnd() * 3 * 86400)
            vtime = at(vtime_s)
            vdel = deleted or (v < nver and rnd() < 0.05)
            # Id, IsDeleted, DeletedAt, DeletedBy, ProjectId, VersionNumber, Name, Description, VersionType,
            # BriefHash, PlanHash, VoiceHash, RenderHash, TimelineHash, StorageSizeBytes, IsMarkedImportant,
            # CreatedAt, UpdatedAt, CreatedBy, ModifiedBy
            versions.append((
                guid(), vdel, updated if vdel else None, actor if vdel else None, pid, v,
                f"Version {v}", None, "Manual" if v == 1 else VERSION_TYPES[int(rnd() * 3)],
                brief_key, plan_key, voice_key, render_key, timeline_key,
                len(brief) + len(plan) + len(timeline) + len(voice) + len(render), rnd() < 0.1,
                vtime, vtime, actor, actor))
        blobs = rows["ContentBlobs"]
        for key, (content, refs) in own.items():
            # ContentHash, Content, ContentType, SizeBytes, CreatedAt, LastReferencedAt,
            # ReferenceCount, UpdatedAt, CreatedBy, ModifiedBy
            blobs.append((key, content, "application/json", len(content), created, vtime, refs, vtime,
                          actor, actor))
        # Id, IsDeleted, DeletedAt, DeletedBy, Title, Description, Status, CurrentWizardStep, CurrentStage,
        # ProgressPercent, JobId, BriefJson, PlanSpecJson, VoiceSpecJson, RenderSpecJson,
        # CreatedAt, UpdatedAt, CreatedBy, ModifiedBy
        rows["ProjectStates"].append((
            pid, deleted, updated if deleted else None, actor if deleted else None,
            f"{topic.capitalize()} {fmt}", f"A {fmt} about {topic} for {audience}.", status,
            min(stage_i + 1, 6), STAGES[stage_i], progress,
            f"job-{pid[:8]}" if status != "Draft" else None, brief, plan, voice,
            render if stage_i >= 5 else None, created, updated, actor, actor))
        done_scenes = scenes if completed else int(rnd() * (scenes + 1))
        scene_rows, asset_rows = rows["SceneStates"], rows["AssetStates"]
        base = f"/projects/{pid}"
        for i in range(scenes):
            audio = "%s/audio/scene-%03d.wav" % (base, i)
            image = "%s/images/scene-%03d.png" % (base, i)
            done = i < done_scenes
            scene_rows.append((guid(), pid, i, SCRIPT_LINES[int(rnd() * len(SCRIPT_LINES))], audio, image,
                               round(2 + rnd() * 10, 2), done, created))
            if done:
                asset_rows.append((guid(), pid, "Audio", audio, 80_000 + int(rnd() * 1_920_000), "audio/wav",
                                   False, created))
                asset_rows.append((guid(), pid, "Image", image, 200_000 + int(rnd() * 3_800_000), "image/png",
                                   rnd() < 0.1, created))
        if status != "Draft":
            for c in range(int(rnd() * 4)):
                rows["RenderCheckpoints"].append((
                    guid(), pid, STAGES[min(3 + c, len(STAGES) - 1)],
                    at(created_s - int(600 + rnd() * 5 * 86400)), done_scenes, scenes,
                    '{"scene":%d,"stage":%d}' % (done_scenes, c), f"{base}/render/part-{c}.mp4", rnd() < 0.9))
        if completed:
            for _ in range(1 + int(rnd() * 2)):
                platform, preset, res = PLATFORMS[int(rnd() * len(PLATFORMS))]
                queued_s = updated_s - int(60 + rnd() * 86400)
                started_s = queued_s - int(1 + rnd() * 120)
                failed = rnd() < 0.08
                rows["export_history"].append((
                    guid(), f"{base}/timeline.json", f"/exports/{pid[:8]}-{platform.lower()}.mp4", preset,
                    "Failed" if failed else "Completed", round(5 + rnd() * 90, 1) if failed else 100.0,
                    at(queued_s), at(started_s), at(started_s - int(20 + rnd() * 880)),
                    "Encoder exited with code 1" if failed else None,
                    None if failed else 5_000_000 + int(rnd() * 895_000_000), round(scenes * (4 + rnd() * 5), 1),
                    platform, res, CODECS[int(rnd() * 3)]))
        self.extra_project(pid, f"{topic.capitalize()} {fmt}", status, stage_i, scenes, created_s, deleted)
        user = self.users[int(rnd() * len(self.users))]
        correlation = f"session-{pid[:8]}"
        logs = rows["ActionLogs"]
        for _ in range(2 + int(rnd() * 7)):
            action, inverse = ACTIONS[int(rnd() * len(ACTIONS))]
            when_s = created_s - int(10 + rnd() * 20 * 86400)
            undone = rnd() < 0.15
            logs.append((
                guid(), user, action, f"{action} on {pid[:8]}", at(when_s), "Undone" if undone else "Applied",
                '{"project":"%s","scene":%d}' % (pid, int(rnd() * max(scenes, 1))), inverse,
                '{"project":"%s"}' % pid, rnd() < 0.3, True,
                at(when_s - 30) if undone else None, user if undone else None,
                at(when_s - 30 * 86400), correlation))

    # -- the tables of the app's newest migration -------------------------------
    # They draw on a random stream of their own, so the rows of the older
    # tables are what they were before these tables were filled.
    def extra_reference(self, roles: list[str], periods: set[tuple[str, str]]) -> None:
        xr, clock, actor, seed = self.xr, self.clock, self.actor, self.spec.random_seed
        n = self.spec.projects
        primary = "role-user" if "role-user" in roles else (roles[0] if roles else None)
        for i, uid in enumerate(self.users):
            at_s = int(86400 + xr.random() * 400 * 86400)
            at = clock.at(at_s)
            suspended = xr.random() < 0.03
            login = clock.at(int(xr.random() * min(at_s, 30 * 86400)))
            two_factor = xr.random() < 0.2
            self.rows["users"].append((
                uid, f"s{seed}_user{i:05d}", f"user{i:05d}.s{seed}@example.com", f"Synthetic User {i + 1}",
                f"PBKDF2$sha256$100000${self.xguid()}", not suspended, suspended,
                login if suspended else None, "Terms of service violation" if suspended else None,
                login, f"10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}", int(xr.random() * 3), None,
                xr.random() < 0.9, None, False, two_factor, f"TOTP{self.xguid()[:16]}" if two_factor else None,
                at, login, actor, actor, '{"locale":"en-US"}'))
            mine = [primary] if primary else []
            if roles and xr.random() < 0.15:
                other = roles[int(xr.random() * len(roles))]
                if other not in mine:
                    mine.append(other)
            for role in mine:
                self.rows["user_roles"].append((uid, role, at, actor))
            videos = int(xr.random() * 40)
            self.rows["user_quotas"].append((
                self.xguid(), uid, 1000, int(xr.random() * 1000), clock.at(0), 50, videos, clock.at(0),
                50 * 1024 ** 3, int(xr.random() * 40 * 1024 ** 3), 5_000_000, int(xr.random() * 5_000_000),
                clock.at(0), 2, 4, "%.4f" % (videos * xr.uniform(0.05, 0.6)), "100.0000", at, login,
                actor, actor))
        at = clock.at(int(xr.random() * 30 * 86400))
        # One settings row of each kind per data set (the app keeps one, keyed by Id).
        self.rows["Settings"].append((self.xguid(), _j({"theme": "Dark", "language": "en-US", "autosave": True}),
                                      False, "1.0", at, at, actor, actor))
        self.rows["HardwareSettings"].append((self.xguid(), _j({"gpu": "Auto", "encoder": "NVENC", "threads": 8}),
                                              "1.0", at, at, actor, actor))
        self.rows["ProviderConfigurations"].append((
            self.xguid(), _j({"script": "OpenAI", "voice": "ElevenLabs", "images": "StableDiffusion"}), False,
            "1.0", at, at, actor, actor))
        for i in range(max(1, n // 10)):
            at_s = int(86400 + xr.random() * 300 * 86400)
            deleted = xr.random() < 0.05
            cid = self.xguid()
            self.collections.append(cid)
            self.rows["MediaCollections"].append((
                cid, f"{MEDIA_TAGS[i % len(MEDIA_TAGS)].title()} collection {i + 1}", "Synthetic media collection",
                f"/media/collections/{cid}/thumb.jpg", clock.at(at_s), clock.at(at_s // 2), actor, actor, deleted,
                clock.at(at_s // 3) if deleted else None, actor if deleted else None))
        for i in range(max(1, n // 10)):
            at_s = int(3600 + xr.random() * 60 * 86400)
            chunks = 1 + int(xr.random() * 40)
            done = int(xr.random() * (chunks + 1))
            sid = self.xguid()
            self.rows["UploadSessions"].append((
                sid, f"upload-{i:05d}.mp4", chunks * 5 * 1024 ** 2, done * 5 * 1024 ** 2, chunks,
                _j(list(range(done))), f"/uploads/{sid}", clock.at(at_s), clock.at(at_s - 86400)))
        end = clock.end.date()
        days = [end - dt.timedelta(days=d) for d in range(1, 366)]
        months = sorted({(d.year, d.month) for d in days})
        for kind, key, start, stop, scale in (
                [("Daily", d.isoformat(), d, d + dt.timedelta(days=1), 1) for d in days]
                + [("Monthly", "%04d-%02d" % m, dt.date(*m, 1),
                    dt.date(m[0] + m[1] // 12, m[1] % 12 + 1, 1), 30) for m in months]):
            if (kind, key) in periods:  # already summarised (another data set): left alone
                continue
            total = int((1 + xr.random() * max(1, n // 50)) * scale)
            failed = int(total * xr.random() * 0.1)
            tin = total * int(800 + xr.random() * 2000)
            tout = total * int(300 + xr.random() * 900)
            stamp = clock.at(0)
            self.rows["AnalyticsSummaries"].append((
                kind, key, start.isoformat() + " 00:00:00", stop.isoformat() + " 00:00:00", total, total - failed,
                failed, tin + tout, tin, tout, "%.6f" % ((tin * 0.15 + tout * 0.6) / 1e6),
                int(2000 + xr.random() * 20000), int(total * (30_000 + xr.random() * 300_000)),
                PROVIDERS[int(xr.random() * len(PROVIDERS))][0], PROVIDERS[0][1], "ScriptGeneration",
                round(total * (20 + xr.random() * 100), 1), total * int(4 + xr.random() * 8),
                round(20 + xr.random() * 60, 1), round(800 + xr.random() * 3000, 1),
                _j({"OpenAI": total - failed, "Anthropic": failed}), _j({"ScriptGeneration": total}),
                stamp, stamp, actor, actor))

    def extra_project(self, pid: str, title: str, status: str, stage_i: int, scenes: int, created_s: int,
                      deleted: bool) -> None:
        xr, at, actor, rows, xguid = self.xr.random, self.clock.at, self.actor, self.rows, self.xguid
        user = self.users[int(xr() * len(self.users))]
        for action in ("project.create",) + (("project.update",) if stage_i else ()) + (
                ("project.delete",) if deleted else ()):
            rows["audit_logs"].append((
                xguid(), at(created_s - int(xr() * 86400)), user, None, action, "Project", pid,
                "192.168.1.%d" % (1 + int(xr() * 250)), "AuraStudio/1.0", True, None,
                '{"title":"%s"}' % title, None, "Info" if action != "project.delete" else "Warning"))
        # Media the project uses: 0-3 items, some in a collection, tagged.
        for m in range(int(xr() * 4)):
            mid = xguid()
            kind, ext = MEDIA_KINDS[int(xr() * len(MEDIA_KINDS))]
            made_s = created_s + int(xr() * 10 * 86400)
            coll = self.collections[int(xr() * len(self.collections))] if xr() < 0.6 else None
            used = at(created_s - int(xr() * 3600))
            rows["MediaItems"].append((
                mid, f"{kind.lower()}-{m}.{ext}", kind, "Upload" if xr() < 0.7 else "Generated",
                50_000 + int(xr() * 50_000_000), None, f"/media/{mid}.{ext}", f"/media/{mid}-thumb.jpg", None,
                "%064x" % self.xr.getrandbits(256), '{"width":1920,"height":1080}', "Completed", None, coll, 1,
                used, at(made_s), at(made_s), actor, actor, False, None, None))
            first = int(xr() * len(MEDIA_TAGS))
            for t in range(1 + int(xr() * 3)):  # distinct tags: (MediaId, Tag) is unique
                rows["MediaTags"].append((xguid(), mid, MEDIA_TAGS[(first + t) % len(MEDIA_TAGS)], at(made_s)))
            rows["MediaUsages"].append((xguid(), mid, pid, title[:200], used))
        if status == "Draft":
            return
        # Renders: one job per attempt; a failed project retried once or twice.
        attempts = 1 + (int(xr() * 3) if status == "Failed" else 0)
        for a in range(attempts):
            job = f"job-{xguid()}"
            last = a == attempts - 1
            jstatus = {"Completed": "Completed", "Failed": "Failed", "Cancelled": "Cancelled",
                       "InProgress": "Processing"}[status] if last else "Failed"
            enq_s = created_s - int(600 + xr() * 5 * 86400) - (attempts - a) * 3600
            start_s = enq_s - int(1 + xr() * 300)
            run_ms = int(30_000 + xr() * 600_000)
            end_s = start_s - run_ms // 1000
            finished = jstatus in ("Completed", "Failed", "Cancelled")
            progress = 100 if jstatus == "Completed" else int(xr() * 95)
            worker = "worker-%d" % int(xr() * 4)
            rows["JobQueue"].append((
                job, int(xr() * 3), jstatus, '{"projectId":"%s","scenes":%d}' % (pid, scenes), f"render-{pid}",
                a, 3, "Renderer exited with code 1" if jstatus == "Failed" else None, at(enq_s), at(start_s),
                at(end_s) if finished else None, at(enq_s - 3600) if jstatus == "Failed" and not last else None,
                progress, STAGES[min(stage_i, len(STAGES) - 1)],
                f"/projects/{pid}/render/output.mp4" if jstatus == "Completed" else None, worker, False,
                at(enq_s), at(end_s), actor, actor))
            steps = 2 + int(xr() * 5)
            for k in range(steps):
                pct = progress * (k + 1) // steps
                rows["JobProgressHistory"].append((
                    job, STAGES[min(k, len(STAGES) - 1)], pct, f"{STAGES[min(k, len(STAGES) - 1)]} {pct}%", None,
                    min(k + 1, scenes), scenes, at(start_s - run_ms * (k + 1) // steps // 1000),
                    run_ms * (k + 1) // steps, run_ms - run_ms * (k + 1) // steps))
            for gen, feature in GENERATIONS[:2 + int(xr() * (len(GENERATIONS) - 1))]:
                provider, model, pin, pout = PROVIDERS[int(xr() * len(PROVIDERS))]
                tin = int(500 + xr() * 4000) if gen == "Script" else 0
                tout = int(200 + xr() * 2000) if gen == "Script" else 0
                ok = jstatus != "Failed" or xr() < 0.5
                when = at(start_s - int(xr() * run_ms / 1000))
                usage_id = self.usage_next
                self.usage_next += 1
                rows["UsageStatistics"].append((
                    usage_id, pid, job, gen, provider, model, tin, tout, int(500 + xr() * 60_000), ok,
                    None if ok else "Provider timeout", feature, round(scenes * (4 + xr() * 5), 1), scenes,
                    a > 0, a or None, when, when, when, actor, actor))
                if tin:
                    cin, cout = tin * pin / 1e6, tout * pout / 1e6
                    rows["CostTracking"].append((
                        usage_id, pid, job, provider, model, tin, tout, "%.6f" % pin, "%.6f" % pout, "%.6f" % cin,
                        "%.6f" % cout, "%.6f" % (cin + cout), "USD", when[:7], when, False, when, when, actor,
                        actor))
            for op in ("Render", "Encode")[:1 + int(xr() * 2)]:
                ok = jstatus != "Failed"
                rows["PerformanceMetrics"].append((
                    pid, job, op, STAGES[min(stage_i, len(STAGES) - 1)], run_ms // 2, round(20 + xr() * 75, 1),
                    round(500 + xr() * 3000, 1), round(800 + xr() * 4000, 1), round(xr() * 90, 1), ok,
                    None if ok else "Encoder exited with code 1", 1 + int(xr() * 8), int(xr() * 60_000),
                    round(10 + xr() * 50, 2), "fps", at(end_s), '{"os":"Windows 11","cores":8}', at(end_s),
                    at(end_s), actor, actor))

    def take(self) -> dict[str, list[tuple]]:
        rows, self.rows = self.rows, {t: [] for t in self.columns}
        return rows

    def pool_rows(self) -> list[tuple[str, str, int]]:
        return [(key, content, refs) for key, (content, refs) in self.pool_refs.items() if refs]


# Parents before children, so foreign keys hold at every statement.
FLUSH_ORDER = ["user_setup", "templates", "custom_templates", "Configurations", "ProjectStates", "SceneStates",
               "AssetStates", "RenderCheckpoints", "ProjectVersions", "ContentBlobs", "export_history", "ActionLogs",
               "users", "user_roles", "user_quotas", "Settings", "HardwareSettings", "ProviderConfigurations",
               "MediaCollections", "UploadSessions", "AnalyticsSummaries", "audit_logs", "MediaItems", "MediaTags",
               "MediaUsages", "JobQueue", "JobProgressHistory", "UsageStatistics", "CostTracking",
               "PerformanceMetrics"]


def seed_synthetic(
    engine: "Engine",
    migrations_dir: Path,
    spec: SyntheticSpec,
    *,
    reset: bool = False,
    on_progress: Progress | None = None,
) -> SeedResult:
    """Insert a synthetic data set of ``spec.projects`` projects, deterministic for a random seed."""
    import peewee as pw

    from aura_db.catalog import catalog_for
    from aura_db.models import current_actor

    started = time.perf_counter()
    result = SeedResult("synthetic", random_seed=spec.random_seed)
    require_writable(engine, "seed synthetic")
    db = engine.open(create=False)
    try:
        require_migrated(engine, db, migrations_dir)
        from aura_db.models import bind

        bind(db)
        writer = engine.bulk_writer(db, catalog_for(engine, db).quote)
        # Timestamps end at a fixed moment so a random seed always gives the same rows.
        syn = _Synthesizer(spec, current_actor(), dt.datetime(2026, 1, 1))
        for key, content in syn.voice_pool + syn.render_pool:
            syn.pool_refs[key] = [content, 0]

        try:
            with db.atomic(), writer.session():
                if reset:
                    result.deleted = _reset(db)
                # The system roles the migrations insert are referenced, never written;
                # analytics periods already summarised are left as they are.
                from aura_db.models import AnalyticsSummary, Role, UsageStatistic

                syn.roles = sorted(r.id for r in Role.select(Role.id))
                syn.periods = {(a.period_type, a.period_id) for a in AnalyticsSummary.select(
                    AnalyticsSummary.period_type, AnalyticsSummary.period_id)}
                syn.usage_next = (UsageStatistic.select(pw.fn.MAX(UsageStatistic.id)).scalar() or 0) + 1
                for done, batch in _generate(syn):
                    for table in FLUSH_ORDER:
                        rows = batch.get(table)
                        if rows:
                            writer.write(table, syn.columns[table], rows)
                            syn.created[table] += len(rows)
                    if on_progress and done:
                        on_progress(done, spec.projects)
                _store_shared_blobs(db, writer, syn)
                if engine.features.serial_sequences and syn.created["UsageStatistics"]:
                    # Ids were given: PostgreSQL's serial must not hand them out again.
                    # (SQLite and MySQL move their counters past inserted ids by themselves.)
                    db.execute_sql("SELECT setval(pg_get_serial_sequence(%s, %s), %s)",
                                   ('"UsageStatistics"', "Id", syn.usage_next - 1))
        except pw.IntegrityError as exc:
            raise AuraError(
                f"synthetic rows clash with rows already in the database ({str(exc).strip().splitlines()[0]}); "
                "nothing was written",
                hint=f"--random-seed {spec.random_seed} was probably seeded before: pick another, or add --reset",
            ) from None
    finally:
        db.close()
    result.created = {t: n for t, n in syn.created.items() if n}
    result.duration_ms = int((time.perf_counter() - started) * 1000)
    return result


def _generate(syn: _Synthesizer) -> Iterator[tuple[int, dict[str, list[tuple]]]]:
    """Batches of rows: (projects done so far, rows per table).

    Built in the calling thread on purpose: a builder thread would hold the
    GIL while sqlite3 waits to take it back after every row it steps, which
    measured no faster and gave up the simple order of one thread.
    """
    spec = syn.spec
    syn.reference_tables()
    syn.extra_reference(syn.roles, syn.periods)
    for i in range(1, spec.projects + 1):
        syn.project()
        if i % spec.flush_every == 0 or i == spec.projects:
            yield i, syn.take()


def _store_shared_blobs(db: "pw.Database", writer: "BulkWriter", syn: _Synthesizer) -> None:
    """Voice and render presets are shared by many versions (and earlier data sets).

    Content addressing says one blob per content: add to the count of a blob
    that is already there, insert the others.
    """
    from aura_db.models import ContentBlob

    rows = syn.pool_rows()
    fresh = []
    now = syn.clock.ago(0)
    for key, content, refs in rows:
        bumped = (ContentBlob.update(reference_count=ContentBlob.reference_count + refs,
                                     last_referenced_at=now, updated_at=now, modified_by=syn.actor)
                  .where(ContentBlob.content_hash == key).execute())
        if not bumped:
            fresh.append(syn.blob_row(key, content, "application/json", now, refs))
    if fresh:
        writer.write("ContentBlobs", syn.columns["ContentBlobs"], fresh)
        syn.created["ContentBlobs"] += len(fresh)

