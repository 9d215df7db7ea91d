"""Distillation: the KD loss, the trainer, teachers (the zoo and the user's), the logit cache."""

from .logit_cache import CachedTeacher, online_teacher
from .loss import kd_loss
from .teachers import PRETRAINED, Teacher, TeacherConfig, load_teacher, near_chance, teacher_record
from .trainer import Curve, TrainConfig, TrainResult, evaluate, resolve_device, train
from .zoo import TEACHERS, register_teacher

__all__ = ["CachedTeacher", "Curve", "PRETRAINED", "TEACHERS", "Teacher", "TeacherConfig",
           "TrainConfig", "TrainResult", "evaluate", "kd_loss", "load_teacher", "near_chance",
           "online_teacher", "register_teacher", "resolve_device", "teacher_record", "train"]
