from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import UserCreationForm

from accounts.models import Profile, Role

User = get_user_model()


class SignupForm(UserCreationForm):
    email = forms.EmailField(required=False, help_text="Optional; needed to reset your password.")

    class Meta(UserCreationForm.Meta):
        model = User
        fields = ("username", "email")

    def clean_email(self) -> str:
        email = self.cleaned_data.get("email", "").strip()
        if email and User.objects.filter(email__iexact=email).exists():
            raise forms.ValidationError("An account with this e-mail address already exists.")
        return email


class ProfileForm(forms.ModelForm):
    class Meta:
        model = Profile
        fields = ("display_name", "skin_type", "consent_photos_for_training")
        labels = {
            "consent_photos_for_training": (
                "Use my photos and my corrections to improve the models"
            ),
        }
        help_texts = {
            "consent_photos_for_training": (
                "Off by default. Withdrawing consent removes your photos from training data "
                "that has not been used yet."
            ),
        }


class TeamCreateForm(forms.Form):
    name = forms.CharField(max_length=80)


class InviteForm(forms.Form):
    identifier = forms.CharField(max_length=254, label="Username or e-mail")
    role = forms.ChoiceField(choices=Role.choices, initial=Role.MEMBER)


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)
