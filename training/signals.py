"""In-process hook: `training_event` is sent by the progress reporter after it has recorded and
pushed each training event (sender=Reporter, session_id=..., event=<ml event>). Receivers run
inside the training loop, so they must be quick; an exception raised there ends the run."""

from django.dispatch import Signal

training_event = Signal()
