"""The analysis tasks people can choose, each explained in a sentence.

A task is available when a model answers it: a production version in the registry or a default
bundle shipped in models/<task>/. Known tasks get curated wording; a team's own task gets a
neutral one built from its model card.
"""

from __future__ import annotations

from dataclasses import dataclass

from analysis import predictors


@dataclass(frozen=True)
class TaskInfo:
    slug: str
    title: str
    sentence: str
    needs_face: bool
    photo_hint: str


KNOWN = {
    "facial": TaskInfo(
        "facial",
        "Facial concerns",
        "A photo of your face: looks for visible concerns such as dark spots, wrinkles or puffy "
        "eyes.",
        True,
        "Face the camera in even daylight, no make-up or filters.",
    ),
    "lesions": TaskInfo(
        "lesions",
        "A skin spot or mole (dermoscopic close-up)",
        "A close-up of one spot, ideally through a dermatoscope or a phone clip-on lens: "
        "compares it with seven common kinds of skin lesion.",
        False,
        "Fill the frame with the spot, in focus, without flash glare.",
    ),
    "acne-severity": TaskInfo(
        "acne-severity",
        "Acne severity",
        "A photo of your face or the affected area: estimates whether acne looks clear, "
        "mild/moderate or severe.",
        True,
        "Show the affected area in even light, from about 30 cm away.",
    ),
}


def task_info(slug: str) -> TaskInfo:
    if slug in KNOWN:
        return KNOWN[slug]
    title = slug.replace("-", " ").replace("_", " ").capitalize()
    return TaskInfo(
        slug,
        title,
        f"Analysis with the team-trained model for {title.lower()}.",
        False,
        "Use a sharp, well-lit photo.",
    )


def available_tasks() -> list[TaskInfo]:
    """Tasks with a model that can answer now, known ones first, in a stable order."""
    slugs = predictors.available_task_slugs()
    order = {slug: i for i, slug in enumerate(KNOWN)}
    return [task_info(s) for s in sorted(slugs, key=lambda s: (order.get(s, 99), s))]
