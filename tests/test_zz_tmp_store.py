import time
def test_store(transformer_store):
    for k, r in transformer_store.results.items():
        print("RES", k, r.run_id, r.evaluation.metrics["macro_f1"], r.evaluation.fit_seconds, r.evaluation.final_fit_seconds)
