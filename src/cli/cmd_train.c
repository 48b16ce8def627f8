/* eef train: masked SFT of a model on a trajectory file. */
#include "cli.h"

#include "agent/policy.h"
#include "tune/tune.h"

#include <stdlib.h>
#include <string.h>

int cmd_train(int argc, char **argv)
{
    const char *data = NULL, *out = NULL, *preset = "small", *init = NULL, *tok_path = NULL;
    const char *model = NULL, *lora_targets = NULL;
    long steps = 0, batch = 8, seq = 0, vocab = 2048, seed = 1, threads = 0, save_every = 100;
    long lora = 0;
    double lr = 0, epochs = 4, wd = 0.05, warmup = 0, ctx_weight = 0, lora_alpha = 0;
    int resume = 0, skip_bad = 0, quiet = 0, full = 0, bf16 = 0;
    const cli_opt opts[] = {
        { "--model", OPT_STR, &model, "DIR", "tune this model (Hugging Face directory or .eefm) "
          "with --lora or --full", 0, 0 },
        { "--lora", OPT_INT, &lora, "R", "LoRA adapters of rank R on a frozen base (--out: a "
          "PEFT directory)", 1, 4096 },
        { "--lora-alpha", OPT_DOUBLE, &lora_alpha, "A", "LoRA scale alpha / R (default 2 R)", 1e-3, 1e6 },
        { "--lora-targets", OPT_STR, &lora_targets, "LIST",
          "projections with adapters (default q,k,v,o,gate,up,down)", 0, 0 },
        { "--full", OPT_FLAG, &full, NULL, "full fine-tuning of --model (--out: a Hugging Face "
          "directory)", 0, 0 },
        { "--bf16", OPT_FLAG, &bf16, NULL, "products in bf16 arithmetic where the CPU has AVX-512 "
          "BF16 (with --full: mixed precision, weights and optimizer in f32; a bf16 base under "
          "--lora multiplies so anyway)", 0, 0 },
        { "--data", OPT_STR, &data, "FILE", "trajectories (.jsonl) to train on", 0, 0 },
        { "--out", OPT_STR, &out, "FILE", "model to write (.eefm; optimizer state in .eefo)", 0, 0 },
        { "--preset", OPT_STR, &preset, "NAME", "model preset: tiny, small, base", 0, 0 },
        { "--init", OPT_STR, &init, "FILE", "start from this model instead of a new one", 0, 0 },
        { "--tokenizer", OPT_STR, &tok_path, "FILE", "use this tokenizer (else one is trained)", 0, 0 },
        { "--vocab", OPT_INT, &vocab, "N", "tokenizer size when one is trained", EEF_TOK_FIRST_MERGE, 65536 },
        { "--steps", OPT_INT, &steps, "N", "optimizer steps (0: use --epochs)", 0, 100000000 },
        { "--epochs", OPT_DOUBLE, &epochs, "X", "passes over the data", 0.01, 10000 },
        { "--batch", OPT_INT, &batch, "B", "rows per batch", 1, 4096 },
        { "--seq", OPT_INT, &seq, "T", "positions per row (0: the model's context)", 0, 1 << 20 },
        { "--lr", OPT_DOUBLE, &lr, "X", "peak learning rate (default 2e-3; with --model: 2e-4 "
          "LoRA, 2e-5 full)", 1e-7, 1 },
        { "--weight-decay", OPT_DOUBLE, &wd, "X", "AdamW weight decay", 0, 1 },
        { "--warmup", OPT_DOUBLE, &warmup, "N", "warmup steps (0: 5% of the steps)", 0, 1e9 },
        { "--seed", OPT_INT, &seed, "S", "seed (weights, data order)", 0, __LONG_MAX__ },
        { "--save-every", OPT_INT, &save_every, "N", "checkpoint every N steps", 1, 100000000 },
        { "--resume", OPT_FLAG, &resume, NULL, "continue from --out and its .eefo", 0, 0 },
        { "--ctx-weight", OPT_DOUBLE, &ctx_weight, "W", "loss weight of the instruction and observations", 0, 1 },
        { "--skip-bad", OPT_FLAG, &skip_bad, NULL, "report and skip malformed lines", 0, 0 },
        { "--threads", OPT_INT, &threads, "N", "threads (0: all cores)", 0, 1024 },
        { "--quiet", OPT_FLAG, &quiet, NULL, "no progress bar", 0, 0 },
        { 0 },
    };
    const cli_spec spec = { "train", "--data FILE.jsonl --out M.eefm [options]\n"
                            "       eef train --model DIR --data FILE.jsonl --lora R|--full --out DIR",
                            "train a model on trajectories (loss on the actions' mask)", opts, 0, 0 };
    int rc = cli_parse(&spec, argc, argv, NULL, NULL);
    if (rc) return rc < 0 ? 0 : rc;
    if (!data || !out) {
        fprintf(stderr, "eef train: --data and --out are required\n");
        cli_usage(&spec, stderr);
        return 2;
    }
    cli_set_threads(threads);
    eef_progress_set_quiet(quiet);
    char opt_path[4096];
    snprintf(opt_path, sizeof opt_path, "%.*s.eefo",
             (int)(strlen(out) > 5 && strcmp(out + strlen(out) - 5, ".eefm") == 0 ? strlen(out) - 5
                                                                                 : strlen(out)),
             out);
    eef_trajset ts = { 0 };
    size_t n_bad = 0;
    eef_world world;
    eef_err e = eef_traj_read_ctx(data, skip_bad, &ts, &n_bad, &world);
    if (e) return cli_error("train");
    if (n_bad) fprintf(stderr, "eef train: skipped %zu malformed lines\n", n_bad);
    /* what the model will have learned from: the world the data records */
    char wline[1600];
    eef_world_describe(&world, wline, sizeof wline);
    fprintf(stderr, "eef train: %s: %s\n", data, wline);
    if (model || lora || full) {
        if (!model) {
            fprintf(stderr, "eef train: --lora and --full tune an existing model: give --model\n");
            eef_trajset_free(&ts);
            return 2;
        }
        train_model_args ta = { model, out, lora_targets, lora, batch, seq, steps, seed,
                                save_every, lora_alpha, lr, wd, warmup, epochs, full, resume, bf16 };
        rc = cmd_train_model(&ta, &ts);
        eef_trajset_free(&ts);
        return rc;
    }
    eef_model *m = NULL;
    eef_adamw *opt = NULL;
    /* half-written checkpoints of a killed earlier run */
    eef_clean_tmp_of(out);
    eef_clean_tmp_of(opt_path);
    if (resume) {
        e = eef_model_load(out, &m);
        if (!e) e = eef_adamw_load(opt_path, m->n_params, &opt);
        if (!e) fprintf(stderr, "eef train: resuming %s at step %ld\n", out, opt->step);
    } else if (init) {
        e = eef_model_load(init, &m);
    } else {
        eef_tokenizer *tok = NULL;
        if (tok_path) {
            e = eef_tok_load_file(tok_path, &tok);
        } else {
            /* learn the tokenizer from the data's own text, as the model sees it */
            eef_buf corpus;
            eef_buf_init(&corpus);
            e = eef_prompt_corpus(ts.items, ts.n, &corpus);
            if (!e)
            e = eef_tok_train(corpus.data ? corpus.data : "", corpus.len, (int)vocab, &tok);
            eef_buf_free(&corpus);
        }
        eef_model_config mc;
        if (!e) e = eef_model_preset(preset, eef_tok_vocab_size(tok), &mc);
        if (!e) e = eef_model_new(&mc, tok, eef_rng_key((uint64_t)seed, EEF_STREAM_SFT, 0, 0), &m);
        else if (tok) eef_tok_free(tok);
    }
    eef_train_config tc;
    eef_train_defaults(&tc);
    tc.batch_rows = (int)batch;
    tc.seq_len = seq > 0 ? (int)seq : (m ? m->cfg.max_ctx : 1024);
    tc.epochs = epochs;
    tc.steps = steps;
    tc.opt.lr = lr > 0 ? lr : 2e-3;
    tc.opt.weight_decay = wd;
    tc.opt.warmup = (long)warmup;
    tc.seed = (uint64_t)seed;
    tc.ctx_weight = ctx_weight;
    tc.label = "train";
    tc.resume = opt;
    tc.save_every = save_every;
    tc.save_model = out;
    tc.save_opt = opt_path;
    eef_train_stats st;
    if (!e) e = eef_train_trajs(m, ts.items, ts.n, &tc, &st);
    if (!e) {
        printf("trained %ld steps on %zu trajectories: loss %.4f -> %.4f, %.0f tokens/s\n",
               st.steps, ts.n, st.first_loss, st.last_loss,
               st.seconds > 0 ? st.tokens / st.seconds : 0);
        printf("model: %s (optimizer state: %s)\n", out, opt_path);
    }
    eef_adamw_free(opt);
    eef_model_free(m);
    eef_trajset_free(&ts);
    return e ? cli_error("train") : 0;
}
