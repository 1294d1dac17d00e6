"""What learns from the user's labels and takes longer than a retriever's fit: fine-tuning runs (`finetune`)."""
