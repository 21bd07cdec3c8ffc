"""The BiLSTM and the Transformer encoder, as the last step of a raw-text sklearn Pipeline.

Small settings on ~1,500 airline tweets keep each fit to seconds on a CPU; the benchmarks
(benchmarks/deep.py) measure quality with the full settings.
"""

from __future__ import annotations

import pickle

import mlflow
import numpy as np
import pytest
import torch
from imblearn.pipeline import Pipeline as ImbPipeline
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.metrics import f1_score, make_scorer
from sklearn.model_selection import GridSearchCV, train_test_split

from sentiment_mlops.networks import BiLSTMClassifier
from sentiment_mlops.text_cleaning import TextCleaner
from tests.networks.conftest import SMALL, majority_macro_f1, small_model


@pytest.fixture(params=sorted(SMALL))
def fitted(request, fitted_networks):
    return fitted_networks[request.param]


@pytest.mark.integration
def test_beats_the_majority_class_on_held_out_tweets(fitted, airline_texts):
    predicted = fitted.predict(airline_texts["test_text"])
    macro_f1 = f1_score(airline_texts["test_label"], predicted, average="macro")
    baseline = majority_macro_f1(airline_texts["train_label"], airline_texts["test_label"])
    assert macro_f1 > baseline + 0.15, (macro_f1, baseline)


@pytest.mark.integration
def test_probabilities_follow_classes_order(fitted, airline_texts):
    network = fitted.named_steps["classifier"]
    probabilities = fitted.predict_proba(airline_texts["test_text"])
    assert network.classes_.tolist() == ["negative", "neutral", "positive"]
    assert probabilities.shape == (len(airline_texts["test_text"]), 3)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-6)
    predicted = fitted.predict(airline_texts["test_text"])
    assert (predicted == network.classes_[probabilities.argmax(axis=1)]).all()


@pytest.mark.integration
def test_keeps_the_weights_of_the_best_validation_epoch(fitted, airline_texts):
    network = fitted.named_steps["classifier"]
    scores = [epoch["val_macro_f1"] for epoch in network.history_]
    assert network.best_epoch_ == int(np.argmax(scores)) + 1
    # Rebuild the held-out rows the way fit carved them, and score the kept weights on them.
    labels = np.asarray(airline_texts["train_label"])
    _, validation = train_test_split(
        np.arange(len(labels)),
        test_size=network.validation_fraction,
        stratify=labels,
        random_state=network.random_state,
    )
    texts = [airline_texts["train_text"][row] for row in validation]
    now = f1_score(labels[validation], fitted.predict(texts), average="macro")
    assert now == pytest.approx(max(scores))


@pytest.mark.integration
def test_clone_gives_an_unfitted_copy_with_the_same_params(fitted):
    copy = clone(fitted)
    assert copy.get_params()["classifier__max_epochs"] == 3
    with pytest.raises(NotFittedError):
        copy.predict(["late again"])
    copy.set_params(classifier__max_epochs=7)
    assert copy.named_steps["classifier"].max_epochs == 7


@pytest.mark.integration
@pytest.mark.parametrize("name", sorted(SMALL))
def test_same_seed_same_probabilities_on_cpu(name, airline_texts, tracking_uri):
    texts, labels = airline_texts["train_text"][:400], airline_texts["train_label"][:400]
    first = small_model(name, max_epochs=2, device="cpu")
    with mlflow.start_run() as run:  # also shows the per-epoch metrics reach MLflow
        first.fit(texts, labels)
    second = small_model(name, max_epochs=2, device="cpu").fit(texts, labels)
    held_out = airline_texts["test_text"][:100]
    np.testing.assert_array_equal(first.predict_proba(held_out), second.predict_proba(held_out))

    network = first.named_steps["classifier"]
    history = mlflow.tracking.MlflowClient().get_metric_history(
        run.info.run_id, f"{network._log_name}_val_macro_f1"
    )
    assert [metric.step for metric in history] == list(range(1, network.n_epochs_ + 1))
    assert [metric.value for metric in history] == [e["val_macro_f1"] for e in network.history_]


@pytest.mark.integration
def test_different_seeds_give_different_networks(airline_texts):
    texts, labels = airline_texts["train_text"][:200], airline_texts["train_label"][:200]
    one = small_model("bilstm", max_epochs=1, random_state=1).fit(texts, labels)
    two = small_model("bilstm", max_epochs=1, random_state=2).fit(texts, labels)
    assert not np.array_equal(one.predict_proba(texts[:20]), two.predict_proba(texts[:20]))


@pytest.mark.integration
def test_stops_early_when_validation_does_not_improve(airline_texts):
    texts, labels = airline_texts["train_text"][:200], airline_texts["train_label"][:200]
    # With a zero learning rate no epoch beats the first: patience 1 stops after epoch 2.
    model = small_model("bilstm", max_epochs=5, patience=1, learning_rate=0.0)
    network = model.fit(texts, labels).named_steps["classifier"]
    assert (network.n_epochs_, network.best_epoch_) == (2, 1)


@pytest.mark.integration
def test_grid_search_tunes_the_comparison_shaped_pipeline(airline_texts):
    """The comparison's imblearn Pipeline(cleaner, vectorizer, sampler, classifier) holds a
    network once vectorizer and sampler are "passthrough": the network reads the cleaned text."""
    texts, labels = airline_texts["train_text"][:300], airline_texts["train_label"][:300]
    network = small_model("bilstm", max_epochs=1).named_steps["classifier"]
    pipeline = ImbPipeline(
        [
            ("cleaner", TextCleaner()),
            ("vectorizer", "passthrough"),
            ("sampler", "passthrough"),
            ("classifier", network),
        ]
    )
    search = GridSearchCV(
        pipeline,
        {"classifier__hidden_size": [16, 32]},
        cv=2,
        scoring=make_scorer(f1_score, average="macro"),
    ).fit(texts, labels)
    assert search.best_params_["classifier__hidden_size"] in (16, 32)
    assert len(search.cv_results_["mean_test_score"]) == 2
    assert search.predict_proba(texts[:5]).shape == (5, 3)


@pytest.mark.unit
def test_balanced_class_weights_are_inverse_class_frequencies():
    network = BiLSTMClassifier()
    network.classes_ = np.array(["negative", "neutral", "positive"])
    weights = network._loss_weights(np.array([0, 0, 0, 0, 1, 1, 2, 2]))
    np.testing.assert_allclose(weights, [8 / 12, 8 / 6, 8 / 6])
    network.class_weight = {"neutral": 3.0}
    np.testing.assert_allclose(network._loss_weights(np.array([0, 1, 2])), [1.0, 3.0, 1.0])


@pytest.mark.integration
def test_integer_labels_come_back_as_integers(airline_texts):
    texts = airline_texts["train_text"][:120]
    labels = [
        ["negative", "neutral", "positive"].index(label)
        for label in airline_texts["train_label"][:120]
    ]
    model = small_model("bilstm", max_epochs=1).fit(texts, labels)
    assert model.named_steps["classifier"].classes_.tolist() == [0, 1, 2]
    assert set(model.predict(texts[:10]).tolist()) <= {0, 1, 2}


@pytest.mark.integration
def test_verbose_fit_shows_progress_per_epoch_and_per_batch(airline_texts, capsys):
    texts, labels = airline_texts["train_text"][:200], airline_texts["train_label"][:200]
    small_model("bilstm", max_epochs=1, batch_size=64, verbose=True).fit(texts, labels)
    progress = capsys.readouterr().err
    assert "BiLSTMClassifier" in progress and "epoch" in progress
    assert "epoch 1" in progress and "/3 [" in progress  # 180 training texts / 64 = 3 batches
    assert "batch" in progress


@pytest.mark.unit
def test_bad_input_says_what_is_wrong():
    network = BiLSTMClassifier(verbose=False)
    with pytest.raises(TypeError, match=r"X\[1\] is float .*not a str"):
        network.fit(["fine", float("nan")], ["positive", "negative"])
    with pytest.raises(ValueError, match="only one class"):
        network.fit(["fine", "great"], ["positive", "positive"])
    with pytest.raises(ValueError, match="2 texts but y has 3 labels"):
        network.fit(["fine", "awful"], ["positive", "negative", "neutral"])
    with pytest.raises(ValueError, match="validation_fraction=0"):
        network.fit(["fine", "awful", "ok"], ["positive", "negative", "neutral"])
    with pytest.raises(TypeError, match="got one str"):
        network.fit("fine", ["positive"])


@pytest.mark.unit
@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message shown without CUDA")
def test_asking_for_cuda_without_it_is_a_clear_error():
    with pytest.raises(ValueError, match="CUDA is not available"):
        BiLSTMClassifier(device="cuda", validation_fraction=0).fit(["a b", "c d"], ["x", "y"])


@pytest.mark.integration
def test_pickling_leaves_the_fitted_estimator_usable(airline_texts):
    texts, labels = airline_texts["train_text"][:200], airline_texts["train_label"][:200]
    model = small_model("bilstm", max_epochs=1).fit(texts, labels)
    before = model.predict_proba(texts[:10])
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(model.predict_proba(texts[:10]), before)
    np.testing.assert_array_equal(restored.predict_proba(texts[:10]), before)
    assert next(restored.named_steps["classifier"].module_.parameters()).device.type == "cpu"
