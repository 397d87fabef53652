"""Seed one active questionnaire for analysis results and one for finished training runs. Admins
edit them afterwards (or start a new version) in the admin.

The content is written out here, not imported from the app, so this migration keeps doing the
same thing whatever the models later become. Reversing removes exactly these two questionnaires
(version 1 of each target) when nobody has answered them; otherwise it leaves them.
"""

from django.db import migrations

QUESTIONNAIRES = [
    {
        "target": "analysis",
        "title": "How did this result do?",
        "intro": (
            "Your answers help us see how the models do in real life. If you tell us what the "
            "spot or concern really is, and you have allowed your photos to be used for "
            "training (in your profile), the photo can help train better models."
        ),
        "questions": [
            ("helpful", "Was this result helpful?", "", "rating", "", True),
            (
                "doctor",
                "Does it match what a doctor told you?",
                "",
                "single",
                "Yes, a doctor said the same\n"
                "No, a doctor said something else\n"
                "I haven't seen a doctor about it",
                False,
            ),
            (
                "really",
                "What is it really?",
                "Only if you know, for example from a doctor. Pick “I don't know” otherwise.",
                "correction",
                "",
                False,
            ),
            (
                "photo_issues",
                "Was anything wrong with the photo or the upload?",
                "Pick all that apply.",
                "multiple",
                "Blurry or dark photo\nWrong part of the skin\nThe upload was hard\n"
                "Nothing was wrong",
                False,
            ),
            ("comments", "Anything else you'd like to tell us?", "", "text", "", False),
        ],
    },
    {
        "target": "training_session",
        "title": "How did this training run go?",
        "intro": "A minute of your time helps us improve the training workspace.",
        "questions": [
            ("charts", "How useful were the live charts?", "", "rating", "", True),
            (
                "setup",
                "How easy was it to set up the run?",
                "From choosing the dataset to pressing Start.",
                "rating",
                "",
                False,
            ),
            (
                "next_step",
                "What will you do next with this run?",
                "",
                "single",
                "Promote it to the registry\nChange the settings and train again\n"
                "Fix or extend the dataset\nNothing: it was an experiment",
                False,
            ),
            (
                "missing",
                "What did you miss?",
                "Pick all that apply.",
                "multiple",
                "More metrics\nExample predictions\nClearer errors\nFaster training\n"
                "Nothing",
                False,
            ),
            ("comments", "Anything else?", "", "text", "", False),
        ],
    },
]


def seed(apps, schema_editor):
    Questionnaire = apps.get_model("feedback", "Questionnaire")
    Question = apps.get_model("feedback", "Question")
    for spec in QUESTIONNAIRES:
        if Questionnaire.objects.filter(target=spec["target"], version=1).exists():
            continue
        active = not Questionnaire.objects.filter(target=spec["target"], is_active=True).exists()
        questionnaire = Questionnaire.objects.create(
            target=spec["target"],
            title=spec["title"],
            intro=spec["intro"],
            version=1,
            is_active=active,
        )
        for order, (key, text, help_text, kind, choices, required) in enumerate(
            spec["questions"], start=1
        ):
            Question.objects.create(
                questionnaire=questionnaire,
                key=key,
                text=text,
                help_text=help_text,
                kind=kind,
                choices=choices,
                required=required,
                order=order * 10,
            )


def unseed(apps, schema_editor):
    Questionnaire = apps.get_model("feedback", "Questionnaire")
    for spec in QUESTIONNAIRES:
        Questionnaire.objects.filter(
            target=spec["target"], version=1, title=spec["title"], responses__isnull=True
        ).delete()


class Migration(migrations.Migration):
    dependencies = [("feedback", "0001_initial")]

    operations = [migrations.RunPython(seed, unseed)]
