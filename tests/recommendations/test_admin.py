from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from recommendations import coverage
from recommendations.models import Condition, Product, Referral, Tip
from recommendations.services import build_advice
from tests.recommendations.factories import TASK, ConditionFactory, ProductFactory, TipFactory

pytestmark = pytest.mark.django_db


def _client(user=None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


@pytest.fixture
def staff_client(staff_user) -> Client:
    return _client(staff_user)


def _form_data(response) -> dict:
    """The POST body of an admin change form as rendered (main form + every inline formset)."""
    data: dict = {}

    def add(form) -> None:
        for field in form:
            value = field.value()
            if value is None or value is False:
                continue
            if value is True:
                data[field.html_name] = "on"
            elif isinstance(value, list | tuple):
                data[field.html_name] = [str(v) for v in value]
            else:
                data[field.html_name] = str(value)

    add(response.context["adminform"].form)
    for inline in response.context["inline_admin_formsets"]:
        add(inline.formset.management_form)
        for form in inline.formset.forms:
            add(form)
    return data


def _change_url(obj) -> str:
    return reverse(f"admin:recommendations_{obj._meta.model_name}_change", args=[obj.pk])


ADMIN_PAGES = [
    ("admin:recommendations_condition_changelist", {}),
    ("admin:recommendations_condition_preview", {}),
    ("admin:recommendations_condition_preview_frame", {}),
    ("admin:recommendations_condition_import", {}),
    ("admin:recommendations_condition_export", {}),
    ("admin:recommendations_severityrule_changelist", {}),
    ("admin:recommendations_tip_changelist", {}),
    ("admin:recommendations_product_changelist", {}),
    ("admin:recommendations_product_import", {}),
    ("admin:recommendations_productcategory_changelist", {}),
]


@pytest.mark.parametrize(("name", "kwargs"), ADMIN_PAGES)
def test_admin_pages_access_matrix(name, kwargs, user, staff_user):
    url = reverse(name, kwargs=kwargs)
    login = reverse("admin:login")
    anonymous = _client().get(url)
    normal = _client(user).get(url)
    assert anonymous.status_code == 302
    assert anonymous.url.startswith(login)
    assert normal.status_code == 302
    assert normal.url.startswith(login)
    assert _client(staff_user).get(url).status_code == 200


def test_view_only_staff_can_export_but_not_import_or_bulk_edit():
    from django.contrib.auth.models import Permission

    from tests.factories import UserFactory

    viewer = UserFactory(username="viewer-staff", is_staff=True)
    viewer.user_permissions.add(*Permission.objects.filter(codename="view_product"))
    client = _client(viewer)
    product = Product.objects.filter(is_active=True).first()

    assert client.get(reverse("admin:recommendations_product_changelist")).status_code == 200
    assert client.get(reverse("admin:recommendations_product_export")).status_code == 200
    assert client.get(reverse("admin:recommendations_product_import")).status_code == 403
    response = client.post(
        reverse("admin:recommendations_product_changelist"),
        {"action": "deactivate", "_selected_action": [product.pk]},
    )
    assert response.status_code in (200, 302)
    product.refresh_from_db()
    assert product.is_active is True


def test_admin_change_forms_render_for_seeded_rows(staff_client):
    condition = Condition.objects.get(task="lesions", key="mel")
    for obj in (
        condition,
        condition.severity_rule,
        Tip.objects.first(),
        Product.objects.first(),
        Product.objects.first().category,
    ):
        assert staff_client.get(_change_url(obj)).status_code == 200


def test_admin_edit_changes_the_next_analysis_advice(staff_client):
    condition = Condition.objects.get(task="lesions", key="nv")
    url = _change_url(condition)
    data = _form_data(staff_client.get(url))
    data["when_to_see_doctor"] = "Edited in the admin: show it to a doctor at your next visit."
    rule_mode = next(k for k in data if k.endswith("-mode"))
    data[rule_mode] = "thresholds"
    data[rule_mode.replace("-mode", "-medium_from")] = "0.3"
    data[rule_mode.replace("-mode", "-high_from")] = "0.6"
    data[rule_mode.replace("-mode", "-fixed_severity")] = ""

    response = staff_client.post(url, data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    advice = build_advice(task="lesions", probabilities={"nv": 0.7, "bkl": 0.3}, profile=None)
    assert advice.when_to_see_doctor == data["when_to_see_doctor"]
    assert advice.severity == "high"  # the edited rule, no longer "always Low"


def test_admin_tip_edit_changes_the_next_advice(staff_client):
    condition = ConditionFactory(key="edited")
    tip = TipFactory(text="Old tip", conditions=[condition])
    data = _form_data(staff_client.get(_change_url(tip)))
    data["text"] = "New tip written by an admin."
    data.pop("for_low")  # no longer shown at low severity

    assert staff_client.post(_change_url(tip), data).status_code == 302
    low = build_advice(task=TASK, probabilities={"edited": 0.2}, profile=None)
    medium = build_advice(task=TASK, probabilities={"edited": 0.6}, profile=None)
    assert low.tips == []
    assert [t.text for t in medium.tips] == ["New tip written by an admin."]


def test_admin_refuses_to_stop_referral_for_melanoma(staff_client):
    condition = Condition.objects.get(task="lesions", key="mel")
    data = _form_data(staff_client.get(_change_url(condition)))
    data["refer_to_dermatologist"] = Referral.NO

    response = staff_client.post(_change_url(condition), data)

    assert response.status_code == 200
    assert "refer_to_dermatologist" in response.context["adminform"].form.errors
    condition.refresh_from_db()
    assert condition.refer_to_dermatologist == Referral.ALWAYS


def test_admin_product_form_saves_skin_types_canonically(staff_client):
    condition = ConditionFactory(key="typed")
    product = ProductFactory(conditions=[condition])
    data = _form_data(staff_client.get(_change_url(product)))
    data["skin_types"] = ["VI", "IV"]

    assert staff_client.post(_change_url(product), data).status_code == 302
    product.refresh_from_db()
    assert product.skin_types == "IV,VI"
    reloaded = staff_client.get(_change_url(product))
    assert reloaded.context["adminform"].form["skin_types"].value() == ["IV", "VI"]


@pytest.mark.parametrize(("model", "factory_kwargs"), [(Product, {}), (Tip, {})])
def test_admin_bulk_deactivate_and_activate(staff_client, model, factory_kwargs):
    condition = ConditionFactory(key="bulk")
    factory = ProductFactory if model is Product else TipFactory
    objs = [factory(conditions=[condition]) for _ in range(3)]
    url = reverse(f"admin:recommendations_{model._meta.model_name}_changelist")
    selected = [str(o.pk) for o in objs[:2]]

    response = staff_client.post(url, {"action": "deactivate", "_selected_action": selected})

    assert response.status_code == 302
    assert list(
        model.objects.filter(pk__in=[o.pk for o in objs])
        .order_by("pk")
        .values_list("is_active", flat=True)
    ) == [False, False, True]
    advice = build_advice(task=TASK, probabilities={"bulk": 0.5}, profile=None)
    shown = advice.products if model is Product else advice.tips
    assert len(shown) == 1

    staff_client.post(url, {"action": "activate", "_selected_action": selected})
    assert model.objects.filter(pk__in=[o.pk for o in objs], is_active=True).count() == 3


def test_admin_changelist_search_and_filters(staff_client):
    url = reverse("admin:recommendations_condition_changelist")
    found = staff_client.get(url, {"q": "Dermatofibroma"})
    by_task = staff_client.get(url, {"task": "acne-severity"})
    assert [c.key for c in found.context["cl"].result_list] == ["df"]
    assert {c.task for c in by_task.context["cl"].result_list} == {"acne-severity"}
    assert len(by_task.context["cl"].result_list) == 7
    products = staff_client.get(reverse("admin:recommendations_product_changelist"), {"suits": "I"})
    assert all(p.suits("I") for p in products.context["cl"].result_list)
    assert "Oil-free broad-spectrum sunscreen SPF 50+" in [
        p.name for p in products.context["cl"].result_list
    ]
    assert "Tinted mineral sunscreen with iron oxides SPF 30+" not in [
        p.name for p in products.context["cl"].result_list
    ]


# Preview -------------------------------------------------------------------------------------


def test_preview_renders_what_a_user_sees_after_an_edit(staff_client):
    condition = Condition.objects.get(task="facial", key="dark_spots")
    data = _form_data(staff_client.get(_change_url(condition)))
    data["description"] = "Freshly edited description of dark spots."
    assert staff_client.post(_change_url(condition), data).status_code == 302
    params = {"condition": condition.pk, "severity": "medium", "skin_type": "V"}

    page = staff_client.get(reverse("admin:recommendations_condition_preview"), params)
    frame = staff_client.get(reverse("admin:recommendations_condition_preview_frame"), params)

    assert page.status_code == 200
    assert reverse("admin:recommendations_condition_preview_frame") in page.content.decode()
    html = frame.content.decode()
    assert "Freshly edited description of dark spots." in html
    assert "This is not a diagnosis" in html
    assert "Matched to skin type V" in html
    assert "Tinted mineral sunscreen" in html  # III-VI
    assert "Glycolic acid exfoliant" not in html  # I-III only
    assert frame["X-Frame-Options"] == "SAMEORIGIN"


def test_preview_of_melanoma_says_see_a_dermatologist(staff_client):
    condition = Condition.objects.get(task="lesions", key="mel")
    frame = staff_client.get(
        reverse("admin:recommendations_condition_preview_frame"),
        {"condition": condition.pk, "severity": "low"},
    )
    html = frame.content.decode()
    assert "have a dermatologist look at this" in html
    assert "not-diagnosis strong" in html


def test_preview_with_invalid_input_shows_the_form_errors(staff_client):
    response = staff_client.get(
        reverse("admin:recommendations_condition_preview"), {"condition": "999999"}
    )
    assert response.status_code == 200
    assert response.context["advice"] is None
    assert response.context["form"].errors


def test_condition_changelist_has_preview_import_and_export_buttons(staff_client):
    html = staff_client.get(reverse("admin:recommendations_condition_changelist")).content.decode()
    assert reverse("admin:recommendations_condition_preview") in html
    assert reverse("admin:recommendations_condition_import") in html
    assert reverse("admin:recommendations_condition_export") in html


def test_condition_change_form_links_to_previews(staff_client):
    condition = Condition.objects.get(task="facial", key="acne")
    html = staff_client.get(_change_url(condition)).content.decode()
    assert reverse("admin:recommendations_condition_preview") + f"?condition={condition.pk}" in html


# Missing-advice warning ------------------------------------------------------------------------


@pytest.fixture
def production_source():
    def source() -> dict[str, list[str]]:
        return {"lesions": ["mel", "nv", "scc_new"], TASK: ["never_written"]}

    coverage.register_class_source(source)
    yield source
    coverage.unregister_class_source(source)


def test_admin_index_warns_about_classes_without_advice(staff_client, production_source):
    html = staff_client.get(reverse("admin:index")).content.decode()
    assert 'id="missing-advice"' in html
    assert "scc_new" in html
    assert "never_written" in html
    assert "?task=lesions&amp;key=scc_new" in html  # a link to write it
    assert ">mel<" not in html


def test_admin_index_has_no_warning_when_everything_has_advice(staff_client):
    html = staff_client.get(reverse("admin:index")).content.decode()
    assert 'id="missing-advice"' not in html
    assert "Site administration" in html


def test_condition_changelist_warns_about_classes_without_advice(staff_client, production_source):
    response = staff_client.get(reverse("admin:recommendations_condition_changelist"))
    messages = [str(m) for m in response.context["messages"]]
    assert any("scc_new" in m and "never_written" in m for m in messages)


def test_writing_the_missing_condition_clears_the_warning(staff_client, production_source):
    ConditionFactory(task="lesions", key="scc_new")
    ConditionFactory(key="never_written")
    html = staff_client.get(reverse("admin:index")).content.decode()
    assert 'id="missing-advice"' not in html
