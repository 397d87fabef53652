"""Recommendations: the advice shown beside a model's numbers (conditions, severity rules, tips,
products), edited by admins. Keyed by (task, class key); knows nothing of analyses or training."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, validate_slug
from django.db import models
from django.db.models import Q

from accounts.models import Profile

SkinType = Profile.SkinType
SKIN_TYPE_ORDER = [value for value, _ in SkinType.choices]

# Safety floor, not content: these lesion classes are malignant or pre-malignant, so a result for
# them always tells the person to see a dermatologist, even if the row is missing or mis-edited.
ALWAYS_REFER: dict[str, frozenset[str]] = {"lesions": frozenset({"mel", "bcc", "akiec"})}


def must_always_refer(task: str, key: str) -> bool:
    return key in ALWAYS_REFER.get(task, frozenset())


class Severity(models.TextChoices):
    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"


class RiskLevel(models.TextChoices):
    LOW = "low", "Low: usually harmless"
    MODERATE = "moderate", "Moderate: worth treating or watching"
    HIGH = "high", "High: needs a medical opinion"


class Referral(models.TextChoices):
    NO = "no", "Not by default"
    WHEN_HIGH = "when_high", "When the severity is high"
    ALWAYS = "always", "Always"


def parse_skin_types(value: str) -> list[str]:
    """'iv, II ,iv' -> ['II', 'IV'] (canonical order, no duplicates); raises on unknown types."""
    wanted = {part.strip().upper() for part in value.split(",") if part.strip()}
    unknown = wanted - set(SKIN_TYPE_ORDER)
    if unknown:
        raise ValidationError(
            "Unknown skin type(s): %(types)s. Use Fitzpatrick types I to VI, comma-separated.",
            params={"types": ", ".join(sorted(unknown))},
        )
    return [t for t in SKIN_TYPE_ORDER if t in wanted]


def validate_skin_types(value: str) -> None:
    parse_skin_types(value)


class Condition(models.Model):
    task = models.CharField(
        max_length=50,
        validators=[validate_slug],
        help_text="Task slug, e.g. lesions, acne-severity, facial.",
    )
    key = models.CharField(
        "label key",
        max_length=100,
        help_text="Exactly the model's class name (the dataset folder name), e.g. mel.",
    )
    display_name = models.CharField(max_length=120)
    description = models.TextField(help_text="What this is, in plain language.")
    causes = models.TextField(blank=True)
    symptoms = models.TextField("what it looks like", blank=True)
    when_to_see_doctor = models.TextField("when to see a doctor")
    risk_level = models.CharField(max_length=10, choices=RiskLevel.choices, default=RiskLevel.LOW)
    refer_to_dermatologist = models.CharField(
        max_length=10,
        choices=Referral.choices,
        default=Referral.NO,
        help_text="When the result tells the person to have a dermatologist look at it.",
    )
    refer_above_probability = models.FloatField(
        null=True,
        blank=True,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text=(
            "Also recommend a dermatologist when this class reaches this probability, even if "
            "another class is the top result (e.g. 0.15 for melanoma). Empty: never."
        ),
    )
    order = models.PositiveSmallIntegerField(default=100, help_text="Position in lists.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["task", "order", "display_name"]
        constraints = [
            models.UniqueConstraint(fields=["task", "key"], name="condition_unique_task_key"),
        ]

    def __str__(self) -> str:
        return f"{self.display_name} ({self.task}/{self.key})"

    def clean(self) -> None:
        if must_always_refer(self.task, self.key) and self.refer_to_dermatologist != (
            Referral.ALWAYS
        ):
            raise ValidationError(
                {
                    "refer_to_dermatologist": (
                        "This lesion class is malignant or pre-malignant: results must always "
                        "recommend a dermatologist."
                    )
                }
            )


class SeverityRule(models.Model):
    """How the top class's calibrated probability maps to a severity, or a fixed severity for
    classes that are themselves grades (acne severity)."""

    class Mode(models.TextChoices):
        THRESHOLDS = "thresholds", "From the probability (thresholds)"
        FIXED = "fixed", "Fixed (the class is a grade)"

    condition = models.OneToOneField(
        Condition, on_delete=models.CASCADE, related_name="severity_rule"
    )
    mode = models.CharField(max_length=12, choices=Mode.choices, default=Mode.THRESHOLDS)
    medium_from = models.FloatField(
        default=0.5,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text="Probability at or above which the severity is Medium.",
    )
    high_from = models.FloatField(
        default=0.8,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text="Probability at or above which the severity is High.",
    )
    fixed_severity = models.CharField(max_length=10, choices=Severity.choices, blank=True)
    rationale = models.TextField(blank=True, help_text="Why this rule (for other admins).")

    class Meta:
        ordering = ["condition__task", "condition__order", "condition__display_name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(medium_from__lte=models.F("high_from")),
                name="severityrule_medium_not_above_high",
            ),
            models.CheckConstraint(
                condition=Q(mode="thresholds") | ~Q(fixed_severity=""),
                name="severityrule_fixed_has_severity",
            ),
        ]

    def __str__(self) -> str:
        if self.mode == self.Mode.FIXED:
            return f"{self.condition}: always {self.get_fixed_severity_display()}"
        return f"{self.condition}: medium ≥ {self.medium_from:g}, high ≥ {self.high_from:g}"

    def clean(self) -> None:
        errors = {}
        low, high = self.medium_from, self.high_from
        if low is not None and high is not None and low > high:
            errors["high_from"] = "Must be at least the Medium threshold."
        if self.mode == self.Mode.FIXED and not self.fixed_severity:
            errors["fixed_severity"] = "Choose the severity of this grade."
        if errors:
            raise ValidationError(errors)

    def severity_for(self, probability: float) -> str:
        if self.mode == self.Mode.FIXED:
            return self.fixed_severity
        if probability >= self.high_from:
            return Severity.HIGH
        if probability >= self.medium_from:
            return Severity.MEDIUM
        return Severity.LOW


class SeverityScoped(models.Model):
    """For which severities a tip or a product is shown (all three by default)."""

    for_low = models.BooleanField("low", default=True)
    for_medium = models.BooleanField("medium", default=True)
    for_high = models.BooleanField("high", default=True)

    class Meta:
        abstract = True

    @property
    def severities(self) -> list[str]:
        return [s for s in Severity.values if getattr(self, f"for_{s}")]

    @property
    def severity_labels(self) -> list[str]:
        return [Severity(s).label for s in self.severities]


class Tip(SeverityScoped):
    text = models.TextField()
    conditions = models.ManyToManyField(Condition, related_name="tips")
    order = models.PositiveSmallIntegerField(
        default=100, help_text="Lower comes first; ties are broken by creation order."
    )
    is_active = models.BooleanField("active", default=True)

    class Meta:
        ordering = ["order", "pk"]

    def __str__(self) -> str:
        return self.text if len(self.text) <= 80 else self.text[:79] + "…"


class ProductCategory(models.Model):
    name = models.CharField(max_length=80, unique=True)
    slug = models.SlugField(max_length=80, unique=True)
    description = models.TextField(blank=True)
    order = models.PositiveSmallIntegerField(
        default=100, help_text="Routine order: cleanser before serum before sunscreen."
    )

    class Meta:
        ordering = ["order", "name"]
        verbose_name_plural = "product categories"

    def __str__(self) -> str:
        return self.name


class Product(SeverityScoped):
    """A kind of product (category level, no brands)."""

    name = models.CharField(max_length=160, unique=True)
    category = models.ForeignKey(ProductCategory, on_delete=models.PROTECT, related_name="products")
    key_ingredients = models.CharField(
        max_length=300, blank=True, help_text="Comma-separated, e.g. niacinamide, zinc PCA."
    )
    skin_types = models.CharField(
        "suitable skin types",
        max_length=20,
        blank=True,
        validators=[validate_skin_types],
        help_text="Fitzpatrick types, comma-separated (e.g. IV,V,VI). Empty: suits every type.",
    )
    usage = models.TextField("how to use", blank=True)
    conditions = models.ManyToManyField(Condition, related_name="products")
    link = models.URLField(blank=True, help_text="Optional page with more information.")
    order = models.PositiveSmallIntegerField(default=100, help_text="Position within its category.")
    is_active = models.BooleanField("active", default=True)

    class Meta:
        ordering = ["category__order", "category__name", "order", "name"]

    def __str__(self) -> str:
        return self.name

    @property
    def skin_type_list(self) -> list[str]:
        """Canonical list; tolerant of a bad stored value (validation happens on save)."""
        wanted = {part.strip().upper() for part in self.skin_types.split(",")}
        return [t for t in SKIN_TYPE_ORDER if t in wanted]

    @property
    def ingredient_list(self) -> list[str]:
        return [part.strip() for part in self.key_ingredients.split(",") if part.strip()]

    def suits(self, skin_type: str) -> bool:
        """No listed types suits everyone; a person without a skin type sees every product."""
        return not self.skin_types or not skin_type or skin_type in self.skin_type_list

    def clean(self) -> None:
        try:
            self.skin_types = ",".join(parse_skin_types(self.skin_types))
        except ValidationError as exc:
            raise ValidationError({"skin_types": exc.messages}) from exc
