"""The instructor's tools (handouts/instructors.md): grading submissions from outside, one at a
time or a folder in parallel, the students' release, and Gradescope's autograder.

    intake.py      what a submission holds: its lab files only, read without trusting it
    cc, sandbox.py the compiler a submission's lab files go through: bubblewrap, or a fallback
    objects.py     what each compiled lab file uses, against grade/imports/ (read by harness/elf.py)
    course.py      this repository: its labs, a pristine copy to grade in, the release's files
    grade_one.py   tools/grade-submission
    batch.py       tools/grade-batch
    release.py     tools/release
    autograder.py  tools/autograder/build
"""
