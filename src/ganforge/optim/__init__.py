"""Optimizers and their learning-rate courses: one spec per network (name, lr, betas, schedule), the
schedules as pure functions of the step, the standard courses (1cycle, SGDR, CycleGAN's...), plots and
the learning-rate range test. Used by the GAN loop and the classifier trainer alike."""
