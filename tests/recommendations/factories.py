"""factory_boy factories for the advice tables. Tests use their own task slug ("test-task") so
the content seeded by the data migration never interferes."""

from __future__ import annotations

import factory

from recommendations.models import Condition, Product, ProductCategory, SeverityRule, Tip

TASK = "test-task"


class ConditionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Condition

    task = TASK
    key = factory.Sequence(lambda n: f"class_{n}")
    display_name = factory.LazyAttribute(lambda o: o.key.replace("_", " ").title())
    description = factory.LazyAttribute(lambda o: f"About {o.display_name}.")
    causes = "Causes text."
    symptoms = "Symptoms text."
    when_to_see_doctor = "When-to-see-a-doctor text."


class SeverityRuleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SeverityRule

    condition = factory.SubFactory(ConditionFactory)
    mode = SeverityRule.Mode.THRESHOLDS
    medium_from = 0.5
    high_from = 0.8


class _WithConditions(factory.django.DjangoModelFactory):
    class Meta:
        abstract = True
        skip_postgeneration_save = True

    @factory.post_generation
    def conditions(obj, create, extracted, **kwargs):  # noqa: N805
        if create and extracted:
            obj.conditions.set(extracted)


class TipFactory(_WithConditions):
    class Meta:
        model = Tip

    text = factory.Sequence(lambda n: f"Tip number {n}.")


class ProductCategoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ProductCategory
        django_get_or_create = ("slug",)

    slug = factory.Sequence(lambda n: f"test-category-{n}")
    name = factory.LazyAttribute(lambda o: o.slug.replace("-", " ").title())


class ProductFactory(_WithConditions):
    class Meta:
        model = Product

    name = factory.Sequence(lambda n: f"Test product {n}")
    category = factory.SubFactory(ProductCategoryFactory)
    key_ingredients = "glycerin, niacinamide"
